"""PROXY protocol v1/v2 on TCP ports (docs/design.md "Inputs"; haproxy's proxy-protocol.txt):
haproxy as the real sender, hand-made headers, and connections that must be refused."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

import relay as R

LOGGER = "/usr/bin/logger"
STAMPED = "<13>1 2026-01-02T03:04:05Z host app - - - "


def proxy_relay(relays, port, extra=()):
    return relays.start(tcp=[port], extra=["--proxy-protocol", str(port), *extra])


def send(port, data, source=None, close=True):
    s = R.tcp_connect(port, source=source)
    s.sendall(data)
    if close:
        s.close()
        return None
    return s


def by_message(evs):
    return {e["message"]: e for e in evs}


# ---------------------------------------------------------------------------------------------
# A real sender


@pytest.fixture
def haproxies(dirs):
    started = []

    def start(**kwargs):
        h = R.Haproxy(dirs.logs, **kwargs)
        started.append(h)
        return h

    yield start
    for h in started:
        h.stop()


@pytest.mark.parametrize("send_proxy", ["send-proxy", "send-proxy-v2"])
def test_haproxy_sender(relays, output, haproxies, send_proxy):
    port = R.free_port()
    r = proxy_relay(relays, port)
    # haproxy's own connection to the relay comes from 127.0.0.9; the client (logger) is
    # 127.0.0.1, and only the PROXY header says so.
    h = haproxies(port=R.free_port(), server_port=port, send_proxy=send_proxy)
    stamped = [f"{send_proxy} stamped {i}" for i in range(3)]
    untimed = [f"{send_proxy} no timestamp {i}" for i in range(3)]
    for fmt, texts in (("--rfc5424", stamped), ("--rfc5424=notime", untimed)):
        subprocess.run(
            [LOGGER, "-T", "-n", "127.0.0.1", "-P", str(h.port), fmt, "-t", "tag"],
            input="".join(t + "\n" for t in texts).encode(),
            env=dict(os.environ, TZ="UTC"),
            check=True,
            timeout=20,
        )
    evs = output.wait_count(len(stamped) + len(untimed))
    h.stop()
    assert sorted(e["stream"] for e in evs) == ["127.0.0.1"] * 6
    for text in stamped:
        # Relayed as logger sent it: its own timestamp and host, no rewrite.
        [ev] = [e for e in evs if e["message"].endswith(text)]
        assert re.match(r"^<13>1 \S+ \S+ tag ", ev["message"]), ev["message"]
        assert " 127.0.0." not in ev["message"], ev["message"]
    for text in untimed:
        # logger's NILVALUE timestamp: valid RFC 5424, kept as sent, with the receive time.
        [ev] = [e for e in evs if e["message"].endswith(text)]
        assert re.match(r"^<13>1 - \S+ tag ", ev["message"]), ev["message"]
        assert abs(ev["timestamp"] / 1000 - time.time()) < 60, ev["timestamp"]
    assert r.stop() == 0, r.stderr
    c = r.counters()
    assert c["proxy_headers_accepted"] == 2, c  # one per logger connection
    assert c["proxy_headers_rejected"] == 0 and c["proxy_header_timeouts"] == 0, c


# ---------------------------------------------------------------------------------------------
# Hand-made headers

IPV6_SOURCE = "2001:db8:0:0:1:0:0:1"  # RFC 5952: "2001:db8::1:0:0:1" (first longest run)


def test_hand_made_headers(relays, output):
    port, plain = R.free_port(), R.free_port()
    r = relays.start(tcp=[port, plain], extra=["--proxy-protocol", str(port), "--debug"])
    unix_block = b"/run/client.sock".ljust(108, b"\0") + b"/run/relay.sock".ljust(108, b"\0")
    inet_block = R.proxy_v2("192.0.2.99", "198.51.100.1", 1, 2)[16:]
    vpce = "vpce-08d2bf15fac5001c9"
    # name: (header, the logStream its messages must get). The real peer is 127.0.0.5, so a
    # header that keeps it is told apart from one whose addresses were wrongly used.
    cases = {
        "v2-ipv6": (R.proxy_v2(IPV6_SOURCE, "2001:db8::2", 40000, 514), "2001:db8::1:0:0:1"),
        "v2-v4-mapped": (R.proxy_v2("::ffff:203.0.113.9", "::1", 40001, 514), "203.0.113.9"),
        "v2-ipv4": (R.proxy_v2("192.0.2.10", "198.51.100.1", 40002, 514), "192.0.2.10"),
        "v2-unix": (R.proxy_v2(family=0x31, block=unix_block), "127.0.0.5"),
        "v2-local": (R.proxy_v2(local=True, family=0x11, block=inet_block), "127.0.0.5"),
        "v2-local-empty": (R.proxy_v2(local=True), "127.0.0.5"),
        "v2-unspec": (R.proxy_v2(family=0x00), "127.0.0.5"),
        "v2-tlvs-crc": (
            R.proxy_v2("192.0.2.20", "198.51.100.1", 40003, 514, crc=True,
                       tlvs=R.proxy_tlv(0x01, b"syslog") + R.proxy_aws_vpce_tlv(vpce) +
                       R.proxy_tlv(0x04, b"\0" * 7) + R.proxy_tlv(0xE5, b"custom")),
            "192.0.2.20",
        ),
        "v1-tcp4": (R.proxy_v1("TCP4", "192.0.2.30", "198.51.100.1", 40004, 514), "192.0.2.30"),
        "v1-tcp6": (R.proxy_v1("TCP6", "2001:DB8::A", "2001:db8::2", 40005, 514), "2001:db8::a"),
        "v1-unknown": (R.proxy_v1("UNKNOWN"), "127.0.0.5"),
        "v1-unknown-addresses": (
            b"PROXY UNKNOWN 192.0.2.98 198.51.100.1 1 2\r\n", "127.0.0.5",
        ),
    }
    for name, (header, _) in cases.items():
        # The header and the first message in one write: only the header may be consumed.
        send(port, header + f"{STAMPED}case={name}\n<13>case={name} no timestamp\n".encode(),
             source="127.0.0.5")
    # Split across many small writes.
    split = R.proxy_v2("192.0.2.40", "198.51.100.1", 40006, 514, crc=True)
    s = R.tcp_connect(port, source="127.0.0.5")
    for i in range(len(split)):
        s.sendall(split[i:i + 1])
        time.sleep(0.002)
    s.sendall(f"{STAMPED}case=split\n<13>case=split no timestamp\n".encode())
    s.close()
    cases["split"] = (split, "192.0.2.40")
    # The other TCP port does not expect a header: its connections are untouched.
    send(plain, f"{STAMPED}case=plain\n".encode(), source="127.0.0.5")

    want = 2 * len(cases) + 1
    evs = by_message(output.wait_count(want))
    assert len(evs) == want
    for name, (_, stream) in cases.items():
        stamped = evs[f"{STAMPED}case={name}"]
        assert stamped["stream"] == stream, name
        [untimed] = [e for m, e in evs.items() if m.endswith(f"case={name} no timestamp")]
        assert untimed["stream"] == stream, name
        m = R.REWRITE_RE.match(untimed["message"])
        assert m and m["source"] == stream, untimed["message"]
    assert evs[f"{STAMPED}case=plain"]["stream"] == "127.0.0.5"
    assert r.stop() == 0, r.stderr
    c = r.counters()
    assert c["proxy_headers_accepted"] == len(cases), c
    assert c["proxy_headers_rejected"] == 0 and c["proxy_header_timeouts"] == 0, c
    # The AWS VPC endpoint id is kept for the connection's debug log line.
    assert vpce in r.stderr, r.stderr


# ---------------------------------------------------------------------------------------------
# Refused connections


def test_bad_headers_closed_and_counted(relays, output):
    port = R.free_port()
    r = proxy_relay(relays, port)
    good = R.proxy_v2("192.0.2.50", "198.51.100.1", 40010, 514)
    keeper = send(port, good + f"{STAMPED}keeper 0\n".encode(), close=False)
    bad_crc = bytearray(R.proxy_v2("192.0.2.51", "198.51.100.1", 1, 2, crc=True))
    bad_crc[16] ^= 1  # the address changed after the checksum was computed
    bad = {
        "no header": f"{STAMPED}plain syslog on a PROXY port\n".encode(),
        "tls hello": bytes.fromhex("16030100a5010000a10303") + bytes(32),
        "v1 malformed": b"PROXY TCP4 192.0.2.256 198.51.100.1 1 2\r\n" + STAMPED.encode() + b"\n",
        "v1 bare lf": b"PROXY TCP4 192.0.2.52 198.51.100.1 1 2\n" + STAMPED.encode() + b"\n",
        "v1 too long": b"PROXY UNKNOWN " + b"x" * 200,
        "v2 bad version": R.PROXY_V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12),
        "v2 bad family": R.PROXY_V2_SIGNATURE + b"\x21\x44\x00\x00",
        "v2 tlv past end": R.proxy_v2(family=0x00, block=b"\x04\x00\x09ab"),
        "v2 wrong crc": bytes(bad_crc) + f"{STAMPED}wrong crc\n".encode(),
    }
    for name, data in bad.items():
        s = send(port, data, close=False)
        assert R.closed_by_peer(s), f"{name}: connection left open"
        s.close()
    # Truncated: the peer closes mid-header, and one that closes before sending anything.
    for data in (good[:20], b"PROXY TCP4 192.0.2.53", b""):
        send(port, data)
    keeper.sendall(f"{STAMPED}keeper 1\n".encode())
    R.tcp_send(port, good + f"{STAMPED}after the bad ones\n".encode())
    keeper.close()

    want = [f"{STAMPED}keeper 0", f"{STAMPED}keeper 1", f"{STAMPED}after the bad ones"]
    evs = output.wait_count(len(want))
    assert r.running()
    assert r.stop() == 0, r.stderr
    evs = output.events()
    assert sorted(e["message"] for e in evs) == sorted(want)  # nothing from the bad ones
    assert {e["stream"] for e in evs} == {"192.0.2.50"}
    c = r.counters()
    assert c["proxy_headers_rejected"] == len(bad) + 3, c
    assert c["proxy_headers_accepted"] == 2 and c["proxy_header_timeouts"] == 0, c
    assert "bad PROXY header: 127.0.0.1 on port" in r.stderr, r.stderr


def test_slow_header_times_out(relays, output):
    port = R.free_port()
    r = proxy_relay(relays, port)
    silent = R.tcp_connect(port)
    partial = send(port, b"PROXY TCP4 192.0.", close=False)
    # While those two wait, another connection's messages arrive.
    R.tcp_send(port, R.proxy_v1("TCP4", "192.0.2.60", "198.51.100.1", 1, 2) +
               f"{STAMPED}while others wait\n".encode())
    [ev] = output.wait_count(1)
    assert ev["stream"] == "192.0.2.60"
    # The 5 s header timeout (docs/operations.md) closes both.
    assert R.closed_by_peer(silent, timeout=30)
    assert R.closed_by_peer(partial, timeout=30)
    silent.close()
    partial.close()
    assert r.stop() == 0, r.stderr
    c = r.counters()
    assert c["proxy_header_timeouts"] == 2, c
    assert c["proxy_headers_rejected"] == 0 and c["proxy_headers_accepted"] == 1, c
    assert "PROXY header timeout: 127.0.0.1 on port" in r.stderr, r.stderr


def test_shutdown_closes_waiting_headers(relays, output):
    port = R.free_port()
    r = proxy_relay(relays, port)
    R.tcp_send(port, R.proxy_v1("TCP4", "192.0.2.70", "198.51.100.1", 1, 2) +
               f"{STAMPED}delivered\n".encode())
    output.wait_count(1)
    waiting = send(port, b"PROXY TCP4 192.0.2.71", close=False)
    try:
        r.send_signal(signal.SIGTERM)
        assert r.wait() == 0, r.stderr
        assert R.closed_by_peer(waiting, timeout=5)
    finally:
        waiting.close()
    c = r.counters()
    assert c["proxy_headers_abandoned"] == 1, c
    assert c["proxy_header_timeouts"] == 0 and c["proxy_headers_rejected"] == 0, c
    assert [e["message"] for e in output.events()] == [f"{STAMPED}delivered"]


@pytest.mark.parametrize("ports", [
    ["--tcp-port", "{a}", "--proxy-protocol", "{b}"],
    ["--udp-port", "{a}", "--tcp-port", "{b}", "--proxy-protocol", "{a}"],
], ids=["not-a-listener", "udp-port"])
def test_proxy_port_must_be_a_tcp_listener(dirs, ports):
    a, b = R.free_port(), R.free_port()
    args = R.listen_args(out=dirs.out, spool=dirs.spool,
                         extra=[p.format(a=a, b=b) for p in ports])
    result = R.run_relay(args)
    assert result.returncode == 78, result.stderr
    problems = R.problem_lines(result.stderr.decode())
    assert len(problems) == 1 and "--proxy-protocol" in problems[0], problems


# ---------------------------------------------------------------------------------------------
# --proxy-trusted: only the proxies may send a header


def logger_via(port, text):
    subprocess.run([LOGGER, "-T", "-n", "127.0.0.1", "-P", str(port), "--rfc5424", "-t", "tag"],
                   input=(text + "\n").encode(), env=dict(os.environ, TZ="UTC"), check=True,
                   timeout=20)


def wait_counter(r, name, at_least, timeout=R.WAIT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        c = r.counters_now()
        if c[name] >= at_least:
            return c
        assert time.monotonic() < deadline, f"{name} stayed at {c[name]} (< {at_least})"
        time.sleep(0.1)


def test_trusted_proxy_only(relays, output, haproxies):
    """Two haproxies send-proxy-v2 to one relay: the one from 127.0.0.9 is trusted (its clients'
    messages get their own logStream, its health checks, PROXY v2 LOCAL, are accepted and
    deliver nothing), the one from 127.0.0.10 is not (its connections are closed at accept and
    counted, and nothing it forwards is delivered). A hand-made header from an untrusted
    address is refused before it is read."""
    port = R.free_port()
    r = proxy_relay(relays, port, extra=["--proxy-trusted", "127.0.0.9",
                                         "--proxy-trusted", "2001:db8::/32", "--debug"])
    check = "check inter 100ms"
    trusted = haproxies(port=R.free_port(), server_port=port, send_proxy="send-proxy-v2",
                        source="127.0.0.9", check=check)
    untrusted = haproxies(port=R.free_port(), server_port=port, send_proxy="send-proxy-v2",
                          source="127.0.0.10", check=check)
    # LOCAL health checks from the trusted proxy are accepted like any header, and from the
    # untrusted one refused; wait for a few of each.
    wait_counter(r, "proxy_headers_accepted", 3)
    wait_counter(r, "proxy_untrusted_peers", 3)
    logger_via(trusted.port, "through the trusted proxy")
    logger_via(untrusted.port, "through the untrusted proxy")
    s = send(port, R.proxy_v2("192.0.2.80", "198.51.100.1", 40020, 514) +
             f"{STAMPED}hand-made from an untrusted address\n".encode(),
             source="127.0.0.11", close=False)
    assert R.closed_by_peer(s), "untrusted connection left open"
    s.close()
    [ev] = output.wait_count(1)
    trusted.stop()
    untrusted.stop()
    assert r.stop() == 0, r.stderr
    evs = output.events()
    assert len(evs) == 1 and evs[0]["message"].endswith(" through the trusted proxy"), evs
    # The client's address (logger on 127.0.0.1), not the proxy's.
    assert ev["stream"] == "127.0.0.1"
    c = r.counters()
    assert c["proxy_untrusted_peers"] >= 4, c  # checks, the forwarded logger, the hand-made one
    assert c["proxy_headers_rejected"] == 0 and c["proxy_header_timeouts"] == 0, c
    # Every connection from the trusted proxy was a header accepted: the health checks and the
    # logger's; the refused ones never reached the header stage.
    assert c["proxy_headers_accepted"] >= 4, c
    # haproxy's checks are PROXY v2 LOCAL, which keeps the real peer (and delivers nothing).
    assert re.search(r"127\.0\.0\.9 on port \d+: PROXY v2 header without a client address",
                     r.stderr), r.stderr[-3000:]
    assert c["tcp_connections_accepted"] == c["proxy_headers_accepted"] + c[
        "proxy_untrusted_peers"] + c["proxy_headers_abandoned"], c
    lines = [l for l in r.stderr.splitlines()
             if "PROXY port connection from an untrusted address" in l]
    # Logged at most once per 10 s, naming the peer.
    assert 1 <= len(lines) <= 2, lines
    assert re.search(r"127\.0\.0\.1[01] on port \d+: not in --proxy-trusted; closed", lines[0]), \
        lines
    assert "accept connections only from 127.0.0.9, 2001:db8::/32" in r.stderr


def test_without_proxy_trusted_anyone_may_send_a_header(relays, output):
    """Today's behaviour stays without the option: any peer that reaches the port names the
    logStream of its records (docs/operations.md says so)."""
    port = R.free_port()
    r = proxy_relay(relays, port)
    send(port, R.proxy_v2("192.0.2.81", "198.51.100.1", 40021, 514) +
         f"{STAMPED}any peer\n".encode(), source="127.0.0.11")
    [ev] = output.wait_count(1)
    assert ev["stream"] == "192.0.2.81"
    assert r.stop() == 0, r.stderr
    assert r.counters()["proxy_untrusted_peers"] == 0


@pytest.mark.parametrize("value", ["10.0.0.1/16", "10.0.0.0/33", "vpc-cidr", "::ffff:10.0.0.0/104"])
def test_bad_proxy_trusted_is_a_usage_error(dirs, value):
    port = R.free_port()
    for how in ("argument", "environment"):
        extra = ["--proxy-protocol", str(port)]
        env = None
        if how == "argument":
            extra += ["--proxy-trusted", "10.9.0.0/16", "--proxy-trusted", value]
        else:
            env = {"KINESYSLOG_PROXY_TRUSTED": f"10.9.0.0/16 {value}"}
        result = R.run_relay(R.listen_args(out=dirs.out, spool=dirs.spool, tcp=[port],
                                           extra=extra), env=env)
        assert result.returncode == 2, (how, result.stderr)
        problems = R.problem_lines(result.stderr.decode())
        assert len(problems) == 1 and f"--proxy-trusted '{value}'" in problems[0], problems


def test_proxy_trusted_on_a_dual_stack_listener(relays, output, dirs):
    """`--address ::`: IPv4 peers arrive as ::ffff:a.b.c.d and are matched as IPv4; ::1 is
    matched against the IPv6 network."""
    port = R.free_port()
    args = R.listen_args(out=dirs.out, spool=dirs.spool, tcp=[port],
                         extra=["--proxy-protocol", str(port), "--proxy-trusted", "127.0.0.9",
                                "--proxy-trusted", "::1/128"])
    args[args.index("--address") + 1] = "::"
    r = relays.start(args=args)

    def via(family, source, text):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.connect(("::1" if family == socket.AF_INET6 else "127.0.0.1", port))
        s.sendall(R.proxy_v2("192.0.2.90", "198.51.100.1", 40030, 514) +
                  f"{STAMPED}{text}\n".encode())
        return s

    senders = [via(socket.AF_INET, "127.0.0.9", "from 127.0.0.9"),
               via(socket.AF_INET6, "::1", "from ::1"),
               via(socket.AF_INET, "127.0.0.10", "from 127.0.0.10")]
    assert R.closed_by_peer(senders[2]), "untrusted IPv4 peer left open"
    for s in senders:
        s.close()
    output.wait_count(2)
    assert r.stop() == 0, r.stderr
    assert sorted(e["message"] for e in output.events()) == [
        f"{STAMPED}from 127.0.0.9", f"{STAMPED}from ::1"]
    assert r.counters()["proxy_untrusted_peers"] == 1
    assert "127.0.0.10 on port" in r.stderr  # named as IPv4, not ::ffff:127.0.0.10
