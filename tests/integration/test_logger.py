"""util-linux logger as the real sender (docs/design.md "Inputs" and "Events")."""

import os
import re
import subprocess
import time

import pytest

import relay as R

LOGGER = "/usr/bin/logger"
RFC5424_RE = re.compile(
    r"^<13>1 (?P<ts>\S+) (?P<host>\S+) tag 123 - \[timeQuality[^\]]*\] (?P<text>.*)$", re.S
)
RFC3164_RE = re.compile(
    r"^<13>(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (?P<host>\S+) tag\[123\]: (?P<text>.*)$",
    re.S,
)

CASES = [
    # id, transport flags, format, extra logger flags
    ("udp-5424", ["-d"], "--rfc5424", []),
    ("udp-3164", ["-d"], "--rfc3164", []),
    ("tcp-5424-lf", ["-T"], "--rfc5424", []),
    ("tcp-5424-octet-count", ["-T"], "--rfc5424", ["--octet-count"]),
    ("tcp-3164-octet-count", ["-T"], "--rfc3164", ["--octet-count"]),
    ("udp-5424-4k", ["-d"], "--rfc5424", ["-S", "4096"]),
    ("tcp-5424-4k-octet-count", ["-T"], "--rfc5424", ["-S", "4096", "--octet-count"]),
]


@pytest.mark.parametrize("name,transport,fmt,extra", CASES, ids=[c[0] for c in CASES])
def test_logger(relay, output, name, transport, fmt, extra):
    port = relay.udp[0] if transport == ["-d"] else relay.tcp[0]
    texts = [f"{name} message {i} with words" for i in range(5)]
    if "4096" in extra:
        # Over logger's default 1 KiB: only arrives whole because of -S 4096.
        texts.append(f"{name} big " + "".join(chr(ord("a") + i % 26) for i in range(2500)))
    before = time.time()
    subprocess.run(
        [LOGGER, *transport, "-n", "127.0.0.1", "-P", str(port), fmt, "--id=123", "-t", "tag",
         *extra],
        input="".join(t + "\n" for t in texts).encode(),
        env=dict(os.environ, TZ="UTC"),
        check=True,
        timeout=20,
    )
    after = time.time()

    evs = output.wait_count(len(texts))
    assert relay.running()
    pattern = RFC5424_RE if fmt == "--rfc5424" else RFC3164_RE
    seen = {}
    for ev in evs:
        assert ev["group"] == "syslog_message"
        assert ev["stream"] == "127.0.0.1"
        assert ev["owner"] == "000000000000"
        assert R.UUID4_RE.match(ev["id"])
        m = pattern.match(ev["message"])
        assert m, f"message not as logger sent it: {ev['message'][:200]!r}"
        seen.setdefault(m["text"], []).append(ev)
        if fmt == "--rfc5424":
            # logger sends microseconds; the relay rounds half up to the millisecond.
            assert ev["timestamp"] == R.rfc3339_ms(m["ts"]), (ev["timestamp"], m["ts"])
            assert before - 1 <= ev["timestamp"] / 1000 <= after + 1
        else:
            # TZ=UTC for logger, relay default zone UTC, year inferred.
            assert ev["timestamp"] == R.rfc3164_ms(m["ts"]), (ev["timestamp"], m["ts"])
            assert before - 2 <= ev["timestamp"] / 1000 <= after + 1
    assert sorted(seen) == sorted(texts), "each message exactly once, text intact"
    assert all(len(v) == 1 for v in seen.values()), "duplicates"
    ids = [e["id"] for e in evs]
    assert len(set(ids)) == len(ids), "ids must be unique"
    assert relay.stop() == 0
    assert len(output.events()) == len(texts)
