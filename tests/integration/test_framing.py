"""TCP framing per RFC 6587 (docs/design.md "Inputs"): mixed framings on one connection,
non-numeric and lying octet counts, --max-message-size truncation, peers that close mid-frame."""

import random
import socket
import time

import relay as R


def hdr(i):
    """A valid RFC 5424 header, so the relay relays the text unchanged."""
    return f"<13>1 2026-01-02T03:04:05.{i:03d}Z host app - - - ".encode()


def exact(msg):
    return ("exact", msg.decode())


def rewritten(rest, pri=13):
    return ("rewrite", pri, rest.decode())


def check_sequence(evs, expected, start, end):
    got = []
    for ev in evs:
        m = R.REWRITE_RE.match(ev["message"])
        if m and not ev["message"].startswith("<13>1 2026-01-02T03:04:05."):
            assert m["source"] == "127.0.0.1"
            assert start - 1 <= R.rfc3339_us(m["ts"])[0] / 1e6 <= end + 1
            got.append(("rewrite", int(m["pri"]), m["rest"]))
        else:
            got.append(("exact", ev["message"]))
    assert got == expected


def test_mixed_framings_one_connection_random_writes(relays, output):
    r = relays.start(tcp=[R.free_port()], flush_interval="60")
    frames = [
        (R.octet(hdr(1) + b"octet counted\nwith embedded LF\n inside"),
         exact(hdr(1) + b"octet counted\nwith embedded LF\n inside")),
        (hdr(2) + b"lf terminated\n", exact(hdr(2) + b"lf terminated")),
        (hdr(3) + b"nul terminated\0", exact(hdr(3) + b"nul terminated")),
        (hdr(4) + b"cr terminated\r", exact(hdr(4) + b"cr terminated")),
        (hdr(5) + b"crlf terminated\r\n", exact(hdr(5) + b"crlf terminated")),
        (b"12abc\n", rewritten(b"12abc")),
        (R.octet(hdr(7) + b"nul\0and cr\rinside"), exact(hdr(7) + b"nul\0and cr\rinside")),
        (b"\n\n\0\r", None),  # empty frames are skipped
        (hdr(9) + b"after empties\n", exact(hdr(9) + b"after empties")),
        (R.octet(hdr(10) + b"trailing newline\r\n"), exact(hdr(10) + b"trailing newline")),
        (R.octet(b"99 bottles"), rewritten(b"99 bottles")),
        (hdr(12) + b"last one\n", exact(hdr(12) + b"last one")),
    ]
    data = b"".join(f for f, _ in frames)
    expected = [e for _, e in frames if e is not None]
    rng = random.Random(6587)
    start = time.time()
    s = R.tcp_connect(r.tcp[0])
    pos = 0
    while pos < len(data):
        n = rng.randint(1, 9)
        s.sendall(data[pos:pos + n])
        pos += n
        time.sleep(0.002)
    s.close()
    # The stop drains the closed connection to its end: no sleep needed before it.
    assert r.stop() == 0, r.stderr
    end = time.time()
    # One connection, one source, flushed once at shutdown: one record, in arrival order.
    check_sequence(output.events(), expected, start, end)


def test_octet_count_not_a_number(relay, output):
    start = time.time()
    R.tcp_send(relay.tcp[0], b"abc def\n" + hdr(2) + b"next\n")
    evs = output.wait_count(2)
    check_sequence(evs, [rewritten(b"abc def"), exact(hdr(2) + b"next")], start, time.time())


def test_octet_count_that_lies_then_close(relay, output):
    msg = hdr(1) + b"short frame"
    R.tcp_send(relay.tcp[0], b"500 " + msg)
    evs = output.wait_count(1)
    assert [e["message"] for e in evs] == [msg.decode()]
    assert relay.stop() == 0
    c = relay.counters()
    assert c.get("frames_incomplete", 0) + c.get("messages_truncated", 0) >= 1, c


def test_disconnect_mid_message(relay, output):
    full = hdr(1) + b"complete\n"
    part = hdr(2) + b"partial line without terminator"
    s = R.tcp_connect(relay.tcp[0])
    s.sendall(full + part[:20])
    time.sleep(0.1)
    s.sendall(part[20:])
    s.close()
    evs = output.wait_count(2)
    assert sorted(e["message"] for e in evs) == sorted([full[:-1].decode(), part.decode()])
    assert relay.stop() == 0


def test_max_message_size_truncates(relays, output):
    limit = 1000
    r = relays.start(udp=[R.free_port()], tcp=[R.free_port()],
                     extra=["--max-message-size", str(limit)])
    big_lf = hdr(1) + b"lf " + b"y" * 3000
    big_octet = hdr(2) + b"octet " + b"z" * 3000
    big_udp = hdr(3) + b"udp " + b"w" * 3000
    after = hdr(4) + b"after the big ones"
    exactly = hdr(5) + b"e" * (limit - len(hdr(5)))
    assert len(exactly) == limit
    R.tcp_send(r.tcp[0], big_lf + b"\n" + R.octet(big_octet) + after + b"\n" + exactly + b"\n")
    R.udp_send(r.udp[0], [big_udp])
    output.wait_count(5)
    # Checked after the stop, which delivers everything: nothing more can arrive then.
    assert r.stop() == 0
    msgs = sorted(e["message"] for e in output.events())
    want = sorted(m[:limit].decode() for m in (big_lf, big_octet, big_udp, after, exactly))
    assert msgs == want, [m[:80] + f"...({len(m)})" for m in msgs]
    c = r.counters()
    assert c.get("messages_truncated", 0) >= 3, c


def test_tcp_half_close_delivers(relay, output):
    """A sender that shuts down its write side mid-frame still gets its bytes delivered."""
    msg = hdr(1) + b"half closed"
    s = R.tcp_connect(relay.tcp[0])
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    evs = output.wait_count(1)
    s.close()
    assert [e["message"] for e in evs] == [msg.decode()]
