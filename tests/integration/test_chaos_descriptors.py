"""Descriptor exhaustion (docs/operations.md "Failure modes"): the relay held to 256 descriptors
(soft and hard limit, so it cannot raise its own) and sent more connections than that. It
accepts as many as its limit leaves room for after its own files, then lets the rest wait in the
listen queue: it keeps running, counts and logs (once per 10 s) the paused accepts without
spinning, keeps delivering UDP and what open connections send (spool files, journal segments
and output objects still get descriptors), and accepts the queued connections, and new ones, as
connections close."""

import re
import resource
import subprocess
import time

import chaos as C
import relay as R

NOFILE = 256
WORKERS = 2
EXTRA = 60  # connections beyond what the relay takes: they wait in the listen queue
LATE = 5  # of them, made once the relay is at its limit, each sending a message


def test_descriptor_limit_pauses_accepting_and_recovers(relays, output):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * NOFILE:  # the test's own client sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4 * NOFILE, hard), hard))
    tcp, udp = R.free_port(), R.free_port()
    r = relays.start(tcp=[tcp], udp=[udp], nofile=(NOFILE, NOFILE),
                     extra=["--workers", str(WORKERS)])
    limit = int(re.search(r"connections: at most (\d+) open at once", r.stderr).group(1))
    assert 64 <= limit < NOFILE - 16, limit

    existing = R.tcp_connect(tcp)
    existing.sendall(b"<13>app: id=before-0 x\n")
    output.wait_count(1)
    flood = []
    flooded = time.monotonic()
    try:
        for _ in range(limit - 1 + EXTRA):
            flood.append(R.tcp_connect(tcp))
        C.poll(lambda: r.counters_now()["tcp_connections_active"] >= limit,
               what=f"{limit} connections accepted")
        # Connections made now wait in the listen queue (which of the flood's did is up to how
        # the kernel spread them over the workers' sockets), each with a message.
        late = [R.tcp_connect(tcp) for _ in range(LATE)]
        flood += late
        for i, s in enumerate(late):
            s.sendall(f"<13>app: id=queued-{i} x\n".encode())

        # At the limit: accepting pauses 100 ms at a time (counted), without spinning. The
        # CPU bound is 20 % of one core over the period, where a loop retrying at once would
        # take all of it; the relay is otherwise idle.
        c0 = r.counters_now()
        cpu0, wall0 = C.cpu_seconds(r.proc.pid), time.monotonic()
        C.poll(lambda: r.counters_now()["tcp_accept_pauses"] >= c0["tcp_accept_pauses"] + 20,
               what="accepting to pause")
        cpu, wall = C.cpu_seconds(r.proc.pid) - cpu0, time.monotonic() - wall0
        assert cpu <= 0.2 * wall + 0.05, f"{cpu:.2f} s of CPU in {wall:.2f} s at the limit"
        c = r.counters_now()
        assert limit <= c["tcp_connections_active"] <= limit + WORKERS - 1, c
        assert C.open_fds(r.proc.pid) < NOFILE, "the reserve is untouched"
        assert "connection limit reached" in r.stderr

        # Still serving: UDP, and the connection it already had (both need spool files).
        R.udp_send(udp, [f"<13>app: id=udp-{i} x".encode() for i in range(50)], pace=0.001)
        existing.sendall(b"".join(f"<13>app: id=before-{i} x\n".encode() for i in range(1, 20)))
        output.wait_events(lambda evs: {f"udp-{i}" for i in range(50)} | {
            f"before-{i}" for i in range(20)} <= set(ids(evs)), what="UDP and the open connection")
        # A worker's socket already waiting in accept when another reached the limit takes one
        # more connection: at most one per worker's socket past the limit.
        taken = [i for i in ids(output.events()) if i.startswith("queued-")]
        assert len(taken) <= WORKERS - 1, f"connections read past the limit: {taken}"

        # Connections close: the queued ones are accepted, and new ones.
        for s in flood[:100]:
            s.close()
        at_limit = time.monotonic() - flooded
        output.wait_count(LATE, match=lambda e: "id=queued-" in e["message"])
        subprocess.run(["logger", "-T", "-n", "127.0.0.1", "-P", str(tcp), "--rfc5424", "-t",
                        "app", "id=after-0 x"], check=True, timeout=30)
        output.wait_count(1, match=lambda e: "id=after-0 " in e["message"])
        assert r.running()
    finally:
        for s in flood:
            s.close()
        existing.close()
    assert r.stop() == 0, r.stderr[-3000:]
    c = r.counters()
    assert c["tcp_connections_accepted"] == limit + EXTRA + LATE + 1, c  # and logger's
    got = ids(output.events())
    assert len(got) == len(set(got)) == 20 + 50 + LATE + 1
    # Logged at most once per 10 s.
    reports = r.stderr.count("connection limit reached")
    assert 1 <= reports <= 1 + at_limit // 10, (reports, at_limit)
    print(f"limit {limit} connections of {NOFILE} descriptors; {cpu:.3f} s CPU in {wall:.2f} s "
          f"at the limit; accept pauses {c['tcp_accept_pauses']}")


ID_RE = re.compile(r"id=(\S+) ")


def ids(events):
    return [ID_RE.search(e["message"]).group(1) for e in events]
