"""Durability (docs/design.md "Spool and delivery"): SIGTERM drains and flushes everything;
after SIGKILL the spool is delivered by the next relay."""

import datetime
import os
import re
import signal
import socket
import time

import relay as R

SEQ_RE = re.compile(r"seq=(\d{6}) ")


def seq_message(i, pad=60):
    return f"<13>1 2026-01-01T00:00:00.000Z host app - - - seq={i:06d} " + "x" * pad


def seqs(evs):
    return R.tagged_values(evs, SEQ_RE, int)


def test_sigterm_right_after_100k_messages(relays, output):
    n = 100_000
    # The default grace (10 s) holds reading 12 MB many times over; a sanitizer build reads
    # several times slower, so its grace scales with it.
    r = relays.start(tcp=[R.free_port()], extra=["--shutdown-grace", str(10 * R.SLOWDOWN)])
    data = b"".join((seq_message(i) + "\n").encode() for i in range(n))
    s = socket.create_connection(("127.0.0.1", r.tcp[0]), timeout=60)
    view = memoryview(data)
    for pos in range(0, len(data), 256 * 1024):
        s.sendall(view[pos:pos + 256 * 1024])
    # The last write returned: terminate now, before the relay can have read it all.
    r.send_signal(signal.SIGTERM)
    s.close()
    assert r.wait(90) == 0, r.stderr
    got = seqs(output.events())
    missing = n - len(set(got))
    assert missing == 0, f"{missing} messages missing; stderr:\n{r.stderr[-2000:]}"
    assert len(got) == n, f"{len(got) - n} duplicates"
    assert sorted(got) == list(range(n))
    c = r.counters()
    assert c["messages_received"] == n, c
    # Everything spooled was delivered before exit, and the counters say so.
    assert c["records_delivered"] == c["spool_writes"] > 0, (
        f"records_delivered={c['records_delivered']} spool_writes={c['spool_writes']}")


def test_sigterm_drains_open_connection(relays, output):
    """After SIGTERM an open connection that keeps sending is still read until its peer closes;
    its unterminated last message is delivered. (How long a quiet connection is kept, 0.5 s
    without data, is the drain unit test's, net/worker_test.cc, on a manual clock.)"""
    r = relays.start(tcp=[R.free_port()], flush_interval="60")
    s = R.tcp_connect(r.tcp[0])
    s.sendall((seq_message(0) + "\n").encode())
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while r.counters_now()["messages_received"] < 1:
        assert time.monotonic() < deadline, "the first message was never received"
    r.send_signal(signal.SIGTERM)
    # Keep the connection busy (far more often than the drain's idle time) until the relay
    # says it is draining, so that the drain, not an idle close, is what this exercises.
    sent = 1
    try:
        while "draining connections" not in r.stderr:
            assert time.monotonic() < deadline, f"no drain after SIGTERM; stderr:\n{r.stderr}"
            s.sendall((seq_message(sent) + "\n").encode())
            sent += 1
            time.sleep(0.05)
        s.sendall((seq_message(sent) + "\n").encode())
        s.sendall(seq_message(sent + 1).encode())  # unterminated: delivered when the peer closes
    finally:
        s.close()
    assert r.wait(30) == 0, r.stderr
    assert sorted(seqs(output.events())) == list(range(sent + 2))


def test_sigint_flushes_and_exits_0(relays, output):
    r = relays.start(udp=[R.free_port()], flush_interval="60")
    R.udp_send(r.udp[0], [seq_message(i).encode() for i in range(10)], pace=0.001)
    # Every datagram read before the signal (UDP has no drain to wait for a sender).
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while r.counters_now()["messages_received"] < 10:
        assert time.monotonic() < deadline, "the datagrams were never all received"
    assert r.stop(signal.SIGINT) == 0, r.stderr
    assert sorted(seqs(output.events())) == list(range(10))


def test_sigkill_spool_survives(relays, dirs):
    # A regular file where the year directory must go: every delivery fails and is retried.
    blockers = set()
    for dt in (datetime.datetime.now(datetime.timezone.utc),
               datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=2)):
        blocker = dirs.out / f"{dt.year:04d}"
        blocker.write_text("not a directory\n")
        blockers.add(blocker)
    r = relays.start(udp=[R.free_port()], tcp=[R.free_port()])
    n_tcp, n_udp = 50, 20
    s = R.tcp_connect(r.tcp[0])
    s.sendall(b"".join((seq_message(i, 10) + "\n").encode() for i in range(n_tcp)))
    R.udp_send(r.udp[0], [seq_message(n_tcp + i, 10).encode() for i in range(n_udp)], pace=0.001)
    want = set(range(n_tcp + n_udp))

    deadline = time.monotonic() + R.WAIT_TIMEOUT
    spooled = set()
    while time.monotonic() < deadline:
        spooled = {int(m.group(1)) for rec in R.spool_records(dirs.spool)
                   for ev in rec["logEvents"] for m in [SEQ_RE.search(ev["message"])] if m}
        if spooled >= want:
            break
        time.sleep(0.05)
    assert spooled >= want, f"only {len(spooled)} of {len(want)} spooled; stderr:\n{r.stderr}"
    assert list(dirs.spool.glob("kinesyslog-*.gz"))
    r.kill()  # SIGKILL: no flush, no cleanup
    s.close()
    assert r.returncode == -signal.SIGKILL
    assert not any(p.is_file() and not p.name.startswith(".") and p not in blockers
                   for p in dirs.out.rglob("*")), "nothing may have been delivered yet"

    for b in blockers:
        os.unlink(b)
    r2 = relays.start(udp=[R.free_port()], tcp=[R.free_port()])
    out = R.Output(dirs.out)
    evs = out.wait_events(lambda evs: set(seqs(evs)) >= want, what="spooled messages")
    got = seqs(evs)
    assert sorted(got) == sorted(want), "each spooled message delivered exactly once"
    # Delivered spool files are removed.
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while list(dirs.spool.glob("kinesyslog-*.gz")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list(dirs.spool.glob("kinesyslog-*.gz")), "delivered spool files left behind"
    assert r2.stop() == 0
    c = r2.counters()
    assert c["spool_recovered"] >= 1, f"spool_recovered={c['spool_recovered']}"
    assert c["records_delivered"] >= c["spool_recovered"], (
        f"records_delivered={c['records_delivered']} spool_recovered={c['spool_recovered']}")


def test_sigterm_with_delivery_blocked_keeps_spool(relays, dirs):
    """docs/design.md "Signals and shutdown": on SIGTERM, one last upload within the grace, exit 0; what is not delivered stays
    spooled (and is delivered by the next run, see test_sigkill_spool_survives)."""
    year = datetime.datetime.now(datetime.timezone.utc).year
    for y in {year, (datetime.datetime.now(datetime.timezone.utc)
                     + datetime.timedelta(minutes=1)).year}:
        (dirs.out / f"{y:04d}").write_text("not a directory\n")
    r = relays.start(tcp=[R.free_port()], flush_interval="60")
    R.tcp_send(r.tcp[0], "".join(seq_message(i) + "\n" for i in range(20)).encode())
    time.sleep(0.3)
    started = time.monotonic()
    assert r.stop(timeout=30) == 0, r.stderr
    assert time.monotonic() - started < 15, "shutdown grace (10 s) not honoured"
    spooled = sorted(int(m.group(1)) for rec in R.spool_records(dirs.spool)
                     for ev in rec["logEvents"] for m in [SEQ_RE.search(ev["message"])] if m)
    assert spooled == list(range(20)), r.stderr
    c = r.counters()
    assert c["records_delivered"] == 0 and c["delivery_failures"] >= 1, (
        f"records_delivered={c['records_delivered']} delivery_failures={c['delivery_failures']}")
