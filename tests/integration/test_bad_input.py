"""Hostile and heavy input: garbage over TCP and UDP, 1,000 simultaneous TCP connections."""

import random
import resource
import time

import relay as R


def test_garbage_keeps_relay_up(relay, output):
    rng = random.Random(1)
    good = [f"<13>1 2026-01-02T03:04:05Z host app - - - good {i}" for i in range(10)]
    # A well-behaved connection stays open across the garbage.
    keeper = R.tcp_connect(relay.tcp[0])
    keeper.sendall((good[0] + "\n").encode())
    for _ in range(5):
        junk = bytes(rng.getrandbits(8) for _ in range(8192))
        s = R.tcp_connect(relay.tcp[0])
        s.sendall(junk)
        s.close()
    s = R.tcp_connect(relay.tcp[0])
    s.sendall(b"999999999 " + bytes(rng.getrandbits(8) for _ in range(4096)))  # huge count
    s.close()
    R.udp_send(relay.udp[0], [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 1400)))
                              for _ in range(50)] + [b"", b"\0", b"\n\r\0"], pace=0.001)
    keeper.sendall("".join(g + "\n" for g in good[1:5]).encode())
    R.udp_send(relay.udp[0], [g.encode() for g in good[5:8]])
    R.tcp_send(relay.tcp[0], "".join(g + "\n" for g in good[8:]).encode())
    keeper.close()
    evs = output.wait_count(len(good), match=lambda e: e["message"] in good)
    assert sorted(e["message"] for e in evs if e["message"] in good) == sorted(good)
    assert relay.running()
    # Every delivered event is still valid (Output parsed each record strictly).
    assert relay.stop() == 0, relay.stderr


def test_thousand_connections_at_once(relays, output):
    conns, per = 1000, 3
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The relay runs with a common service default (1024) and must cope with its own limit.
    r = relays.start(tcp=[R.free_port()], nofile=min(1024, hard))
    if soft < conns + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, conns + 200), hard))
    socks = []
    try:
        for i in range(conns):
            socks.append(R.tcp_connect(r.tcp[0], timeout=30))
        for i, s in enumerate(socks):
            s.sendall("".join(
                f"<13>1 2026-01-02T03:04:05Z host app - - - conn={i} msg={j}\n" for j in range(per)
            ).encode())
        for s in socks:
            s.close()
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    want = sorted(f"<13>1 2026-01-02T03:04:05Z host app - - - conn={i} msg={j}"
                  for i in range(conns) for j in range(per))
    output.wait_count(len(want), timeout=60)
    # Checked after the stop, which delivers everything: nothing more can arrive then.
    assert r.stop() == 0, r.stderr
    assert sorted(e["message"] for e in output.events()) == want
