"""Memory and fairness under load (docs/design.md "Performance targets"): peak RSS within 64 MiB + 2 x flush
size per worker + the partial-message budget while 1,000 connections send maximum-size messages
slowly; 10,000 idle TCP connections within 100 MiB; one flooding connection does not starve
another on the same worker.

The relay's memory is read from /proc/<pid>/status (VmHWM: peak resident set, VmRSS: now)."""

import os
import re
import resource
import threading
import time
from contextlib import contextmanager

import pytest

import relay as R

MIB = 1 << 20


proc_status_kib = R.proc_status_kib


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@contextmanager
def nofile_at_least(n):
    """Raises this process's soft RLIMIT_NOFILE to n (the relay, started inside, inherits the
    hard limit and raises its own soft limit to it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= n, f"hard RLIMIT_NOFILE {hard} is below the {n} this test needs"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, n), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def connect_many(port, count, pid, batch=500):
    """`count` connections, opened in batches so the listen backlog (SOMAXCONN) never
    overflows: each batch waits until the relay has accepted it (its fd count)."""
    socks = []
    base = open_fds(pid)
    while len(socks) < count:
        for _ in range(min(batch, count - len(socks))):
            socks.append(R.tcp_connect(port, timeout=30))
        deadline = time.monotonic() + R.WAIT_TIMEOUT
        while open_fds(pid) < base + len(socks):
            assert time.monotonic() < deadline, (
                f"relay accepted {open_fds(pid) - base} of {len(socks)} connections")
            time.sleep(0.01)
    return socks


# ---------------------------------------------------------------------------------------------
# 1,000 connections sending maximum-size messages, slowly


MAX_MESSAGE = 65536
PIECES = 8  # each message is written in this many pieces, round-robin over the connections


def big_message(conn, n):
    """Exactly MAX_MESSAGE bytes with a header timestamp (so nothing is rewritten and nothing
    cut); the filler repeats the message's own number, so no two messages are equal."""
    head = f"<13>1 2026-01-02T03:04:05Z host app - - - conn={conn:04d} msg={n} ".encode()
    seed = (conn * 2 + n).to_bytes(4, "big")
    filler = (seed.hex().encode() + b"abcdefghijklmnopqrstuvwxyz0123456789") * (MAX_MESSAGE // 40)
    return head + filler[: MAX_MESSAGE - len(head)]


@pytest.mark.measures_memory
def test_thousand_connections_of_max_size_messages_stay_in_budget(relays, output):
    conns, per, workers, flush = 1000, 2, 2, 4 * MIB
    budget = 64 * MIB + 2 * flush * workers + 64 * MIB  # docs/design.md "Performance targets": 144 MiB
    with nofile_at_least(conns + 500):
        r = relays.start(tcp=[R.free_port()],
                         extra=["--workers", str(workers), "--max-message-size", str(MAX_MESSAGE)])
        pid = r.proc.pid
        start_rss = proc_status_kib(pid, "VmRSS")
        socks = connect_many(r.tcp[0], conns, pid)
        held_rss = []
        try:
            for n in range(per):
                frames = [R.octet(big_message(c, n)) for c in range(conns)]
                step = -(-len(frames[0]) // PIECES)
                # Piece k of every connection's message before piece k + 1 of any: before the
                # last piece all 1,000 connections hold a partial message of 56 KiB.
                for k in range(PIECES):
                    for s, f in zip(socks, frames):
                        s.sendall(f[k * step:(k + 1) * step])
                    time.sleep(0.02)
                    if k == PIECES - 2:  # what the relay holds with every message 7/8 done
                        held_rss.append(proc_status_kib(pid, "VmRSS"))
        finally:
            close_all(socks)
        evs = output.wait_count(conns * per, timeout=60)
        peak_kib = proc_status_kib(pid, "VmHWM")
    got = sorted(re.search(r"conn=(\d+) msg=(\d)", e["message"]).groups() for e in evs)
    assert got == sorted((f"{c:04d}", str(n)) for c in range(conns) for n in range(per)), (
        "each message exactly once")
    assert all(len(e["message"]) == MAX_MESSAGE for e in evs), "a message was cut"
    print(f"\n1,000 x {per} x 64 KiB: RSS {start_rss / 1024:.1f} MiB at start, "
          f"{', '.join(f'{k / 1024:.1f}' for k in held_rss)} MiB with every message 7/8 sent, "
          f"peak {peak_kib / 1024:.1f} MiB (budget {budget / MIB:.0f} MiB)")
    assert peak_kib * 1024 <= budget, (
        f"peak RSS {peak_kib / 1024:.1f} MiB over the {budget / MIB:.0f} MiB budget")
    assert r.stop() == 0, r.stderr


# ---------------------------------------------------------------------------------------------
# 10,000 idle connections


@pytest.mark.measures_memory
def test_ten_thousand_idle_connections_within_100_mib(relays, output):
    conns = 10_000
    with nofile_at_least(20_000):
        r = relays.start(tcp=[R.free_port()])
        pid = r.proc.pid
        base_fds = open_fds(pid)
        start_rss = proc_status_kib(pid, "VmRSS")
        socks = connect_many(r.tcp[0], conns, pid)
        try:
            assert open_fds(pid) >= base_fds + conns
            time.sleep(0.5)  # let anything the accepts set in motion settle
            idle_kib = proc_status_kib(pid, "VmRSS")
            # One message on each: every connection is really served, then idle again.
            for i, s in enumerate(socks):
                s.sendall(f"<13>1 2026-01-02T03:04:05Z host app - - - idle={i:05d}\n".encode())
            evs = output.wait_count(conns, match=lambda e: "idle=" in e["message"], timeout=60)
            served_kib = proc_status_kib(pid, "VmRSS")
            got = sorted(re.search(r"idle=(\d+)", e["message"]).group(1) for e in evs)
            assert got == [f"{i:05d}" for i in range(conns)], "one message per connection, once"
        finally:
            close_all(socks)
        print(f"\n10,000 idle connections: RSS {start_rss / 1024:.1f} MiB before, "
              f"{idle_kib / 1024:.1f} MiB idle, {served_kib / 1024:.1f} MiB after one message "
              f"each, peak {proc_status_kib(pid, 'VmHWM') / 1024:.1f} MiB")
        assert idle_kib <= 100 * 1024, f"RSS {idle_kib / 1024:.1f} MiB with 10,000 idle conns"
        assert served_kib <= 100 * 1024, f"RSS {served_kib / 1024:.1f} MiB after one message each"

        # All closed: the relay lets go of them and still serves a new connection.
        deadline = time.monotonic() + R.WAIT_TIMEOUT
        while open_fds(pid) > base_fds + 10:
            assert time.monotonic() < deadline, f"relay still holds {open_fds(pid)} fds"
            time.sleep(0.05)
        after = "<13>1 2026-01-02T03:04:05Z host app - - - after-close"
        R.tcp_send(r.tcp[0], (after + "\n").encode())
        output.wait_count(1, match=lambda e: e["message"] == after)
    assert r.stop() == 0, r.stderr


# ---------------------------------------------------------------------------------------------
# Fairness: a flood does not starve a slow sender


FLOOD_SECONDS = 3.0
SLOW_START = 0.3   # the slow sender starts once the flood is under way
SLOW_PERIOD = 0.05
# Bound on how long a slow sender's message may wait to be read; a sanitizer build reads several
# times slower, so its bound (and the flood it must see) scale with relay.SLOWDOWN.
MAX_WAIT = 1.0 * R.SLOWDOWN
SLOW_RE = re.compile(
    rb"<13>1 (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00) 127\.0\.0\.1 slow seq=(\d+)")


def flood_chunk():
    lines = [f"<13>1 2026-01-02T03:04:05Z host app - - - flood {i:06d} ".ljust(199, "f") + "\n"
             for i in range(5000)]
    return "".join(lines).encode(), len(lines)


def test_flood_does_not_starve_slow_sender(relays, dirs):
    # One worker: both connections share one event loop, the case round-robin reads are for.
    # The grace (default 10 s) scales with a sanitizer build's speed: the drain reads what the
    # flood left in the kernel's buffers.
    r = relays.start(tcp=[R.free_port()], extra=["--workers", "1", "--compression-level", "1",
                                                 "--shutdown-grace", str(10 * R.SLOWDOWN)])
    chunk, per_chunk = flood_chunk()
    flooded = {"chunks": 0, "error": None}
    stop = threading.Event()

    def flood():
        try:
            s = R.tcp_connect(r.tcp[0], timeout=30)
            try:
                while not stop.is_set():
                    s.sendall(chunk)
                    flooded["chunks"] += 1
            finally:
                s.close()
        except OSError as e:
            flooded["error"] = e

    flooder = threading.Thread(target=flood)
    start = time.monotonic()
    flooder.start()
    sent = {}  # seq -> send time, epoch microseconds
    slow = R.tcp_connect(r.tcp[0])
    try:
        time.sleep(SLOW_START)
        seq = 0
        while time.monotonic() - start < FLOOD_SECONDS - SLOW_PERIOD:
            # No timestamp: the relay rewrites it with its receive time (docs/design.md "Events").
            sent[seq] = time.time_ns() // 1000
            slow.sendall(f"<13>slow seq={seq:04d}\n".encode())
            seq += 1
            time.sleep(SLOW_PERIOD)
    finally:
        stop.set()
        flooder.join(30)
        slow.close()
    assert flooded["error"] is None, flooded["error"]
    assert r.stop() == 0, r.stderr  # drains and delivers everything read

    received = {}
    flood_events = 0
    for rel in R.Output(dirs.out).objects():
        for member in R.decode_members((dirs.out / rel).read_bytes()):
            flood_events += member.count(b" flood ")
            for ts, n in SLOW_RE.findall(member):
                assert int(n) not in received, f"slow message {int(n)} delivered twice"
                whole_us, frac_ns = R.rfc3339_us(ts.decode())
                received[int(n)] = whole_us + frac_ns // 1000
    waits = {n: (received[n] - sent[n]) / 1e6 for n in received if n in sent}
    print(f"\nflood: {flooded['chunks'] * per_chunk} messages sent, {flood_events} delivered; "
          f"slow sender: {len(sent)} sent, {len(received)} delivered, read after "
          f"max {max(waits.values(), default=0) * 1000:.1f} ms, "
          f"mean {sum(waits.values()) / max(len(waits), 1) * 1000:.1f} ms")
    assert sorted(received) == sorted(sent), "every slow message, once"
    assert flood_events == flooded["chunks"] * per_chunk, "every flood message, once"
    assert flood_events >= 100_000 / R.SLOWDOWN, "the flood was not a flood"
    late = {n: w for n, w in waits.items() if w > MAX_WAIT}
    assert not late, f"slow messages read more than {MAX_WAIT} s after sending: {late}"
    early = {n: w for n, w in waits.items() if w < -0.01}
    assert not early, f"receive time before send time: {early}"
