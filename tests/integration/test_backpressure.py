"""A full spool (docs/design.md "Spool and delivery"): TCP reading pauses until delivery makes
room, UDP datagrams are dropped and counted; nothing is lost silently."""

import base64
import datetime
import os
import re
import time

import relay as R

SEQ_RE = re.compile(r"seq=(\w+)")


def block_delivery(out_dir):
    """A regular file where the year directory must go: every delivery fails and is retried."""
    now = datetime.datetime.now(datetime.timezone.utc)
    blockers = set()
    for dt in (now, now + datetime.timedelta(minutes=2)):
        b = out_dir / f"{dt.year:04d}"
        b.write_text("not a directory\n")
        blockers.add(b)
    return blockers


def spooled_seqs(spool_dir):
    return {m.group(1) for rec in R.spool_records(spool_dir) for ev in rec["logEvents"]
            for m in [SEQ_RE.search(ev["message"])] if m}


def spool_bytes(spool_dir):
    total = 0
    for p in spool_dir.glob("kinesyslog-*.gz"):
        try:
            total += p.stat().st_size
        except FileNotFoundError:
            pass
    return total


def test_full_spool_pauses_tcp_and_drops_udp(relays, dirs, output):
    blockers = block_delivery(dirs.out)
    # The smallest spool the relay accepts: one record of the largest size (1,024,000 bytes).
    spool_max = 1_024_000
    r = relays.start(udp=[R.free_port()], tcp=[R.free_port()],
                     extra=["--spool-max-bytes", str(spool_max), "--flush-size", "64K"])
    # Fill the spool past its bound with messages that compress badly (~0.8 KB each gzipped).
    # Reading stops once the spool is full, so the tail of these may wait in the kernel.
    first = [f"<13>1 2026-01-01T00:00:00Z h app - - - seq=a{i:04d} "
             + base64.b64encode(os.urandom(750)).decode() for i in range(1600)]
    first_sender = R.tcp_connect(r.tcp[0])
    first_sender.sendall("".join(m + "\n" for m in first).encode())
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while spool_bytes(dirs.spool) < spool_max:
        assert time.monotonic() < deadline, f"spool never filled:\n{r.stderr}"
        time.sleep(0.05)

    # Full: datagrams are dropped, a TCP sender is not read.
    R.udp_send(r.udp[0], [f"<13>1 2026-01-01T00:00:00Z h app - - - seq=u{i:04d}".encode()
                          for i in range(20)], pace=0.002)
    second = [f"<13>1 2026-01-01T00:00:00Z h app - - - seq=b{i:04d}" for i in range(50)]
    sender = R.tcp_connect(r.tcp[0])
    sender.sendall("".join(m + "\n" for m in second).encode())
    # Polled, not slept: the relay has dropped every datagram, accepted the second sender, and
    # rechecked its paused connections several times since (every 20 ms each).
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    pauses_at_accept = None
    while True:
        c = r.counters_now()
        if c["udp_dropped"] >= 20 and c["tcp_connections_accepted"] >= 2:
            if pauses_at_accept is None:
                pauses_at_accept = c["tcp_read_pauses"]
            elif c["tcp_read_pauses"] >= pauses_at_accept + 10:
                break
        assert time.monotonic() < deadline, f"no pause or drop seen: {c}"
        time.sleep(0.05)
    assert not any(s.startswith(("b", "u")) for s in spooled_seqs(dirs.spool)), (
        "messages were taken in while the spool was full")

    # Room again: the paused connections are read, everything sent over TCP arrives once.
    for b in blockers:
        os.unlink(b)
    sender.close()
    first_sender.close()
    want = {f"a{i:04d}" for i in range(len(first))} | {f"b{i:04d}" for i in range(50)}
    evs = output.wait_events(
        lambda evs: {m.group(1) for e in evs for m in [SEQ_RE.search(e["message"])] if m} >= want,
        what="every TCP message after the spool drained")
    got = [SEQ_RE.search(e["message"]).group(1) for e in evs]
    tcp_got = [s for s in got if not s.startswith("u")]
    assert sorted(tcp_got) == sorted(want), "each TCP message exactly once"
    assert r.stop() == 0, r.stderr
    c = r.counters()
    udp_delivered = sum(1 for s in got if s.startswith("u"))
    assert c["udp_dropped"] >= 1 and c["udp_dropped"] + udp_delivered == 20, c
    assert c["tcp_read_pauses"] >= 1, c
    # The drop was logged, not silent.
    assert "dropped" in r.stderr


def test_datagrams_the_kernel_drops_are_counted(relays, output):
    """A relay that cannot read (stopped here with SIGSTOP) loses datagrams in the kernel once
    the socket buffers are full; the socket's drop count (SO_MEMINFO) makes the relay count every
    one of them. The relay reads it when it wakes to read datagrams queued after the drops, so
    the sender goes on sending (from the same socket: the same SO_REUSEPORT socket receives
    them)."""
    import signal
    import socket

    r = relays.start(udp=[R.free_port()])
    sent = 60_000
    payload = b"x" * 900  # 60,000 x ~1.5 KiB of buffer each: far past any SO_RCVBUF
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(i):
        s.sendto(b"<13>1 2026-01-01T00:00:00Z h app - - - seq=k%05d " % i + payload,
                 ("127.0.0.1", r.udp[0]))

    r.send_signal(signal.SIGSTOP)
    try:
        for i in range(sent - 20):
            send(i)
    finally:
        r.send_signal(signal.SIGCONT)
    output.wait_events(lambda evs: len(evs) > 0, what="the datagrams the kernel kept")
    for i in range(sent - 20, sent):
        send(i)
        time.sleep(0.01)
    s.close()
    output.wait_events(lambda evs: any("seq=k%05d" % (sent - 1) in e["message"] for e in evs),
                       what="the datagrams sent after the relay resumed")
    assert r.stop() == 0, r.stderr
    c = r.counters()
    assert c["udp_kernel_dropped"] > 0, c
    # Every datagram was either read or counted as dropped by the kernel (loopback drops only
    # at the receiving socket's buffer).
    assert c["udp_datagrams"] + c["udp_kernel_dropped"] == sent, c
    delivered = {SEQ_RE.search(e["message"]).group(1) for e in output.events()}
    assert len(delivered) == c["udp_datagrams"], c
    assert "dropped by the kernel" in r.stderr
