"""Event content (docs/design.md "Events"): the rewrite of messages without a usable timestamp,
invalid UTF-8 and control characters, header timestamps and their rounding."""

import datetime
import glob
import time
import zoneinfo

import relay as R


def test_rewrite_without_timestamp_or_pri(relay, output):
    udp = [
        (b"udp no pri at all", 13, "udp no pri at all"),
        (b"<34>udp pri but no timestamp", 34, "udp pri but no timestamp"),
        (b"udp trailing junk\r\n\0", 13, "udp trailing junk"),
    ]
    tcp = [
        (b"tcp no pri at all", 13, "tcp no pri at all"),
        (b"<165>1 1969-12-31T23:59:59Z host app - - - before 1970", 165,
         "1 1969-12-31T23:59:59Z host app - - - before 1970"),
        (b"<13>Xyz 99 12:00:00 host tcp bogus 3164 date", 13,
         "Xyz 99 12:00:00 host tcp bogus 3164 date"),
        (b"<0>tcp pri zero", 0, "tcp pri zero"),
        (b"<13>1 2018-02-30T00:00:00Z host app - - - no such day", 13,
         "1 2018-02-30T00:00:00Z host app - - - no such day"),
    ]
    start = time.time()
    R.udp_send(relay.udp[0], [d for d, _, _ in udp])
    R.tcp_send(relay.tcp[0], b"".join(d + b"\n" for d, _, _ in tcp))
    evs = output.wait_count(len(udp) + len(tcp))
    end = time.time()
    got = {}
    for ev in evs:
        m = R.REWRITE_RE.match(ev["message"])
        assert m, f"not rewritten as RFC 5424: {ev['message']!r}"
        assert m["source"] == "127.0.0.1"
        secs_us, ns = R.rfc3339_us(m["ts"])
        us = secs_us + ns // 1000
        assert start - 1 <= us / 1e6 <= end + 1, f"receive time {m['ts']} not near now"
        # The event time is that same receive time.
        assert ev["timestamp"] == R.half_up_ms(us), (ev["timestamp"], m["ts"])
        got[m["rest"]] = int(m["pri"])
    assert got == {rest: pri for _, pri, rest in udp + tcp}
    assert len(evs) == len(udp) + len(tcp)


def test_nil_timestamp_kept_as_received_with_the_receive_time(relay, output):
    """RFC 5424 with the NILVALUE as TIMESTAMP is valid as it stands: no rewrite."""
    msgs = [b"<165>1 - host app - - - tcp nil timestamp", b"<14>1 - - - - - -"]
    start = time.time()
    R.tcp_send(relay.tcp[0], b"".join(m + b"\n" for m in msgs))
    R.udp_send(relay.udp[0], [b"<13>1 - host app 42 ID7 - udp nil timestamp"])
    evs = output.wait_count(3)
    end = time.time()
    assert sorted(e["message"] for e in evs) == sorted(
        m.decode() for m in msgs + [b"<13>1 - host app 42 ID7 - udp nil timestamp"])
    for ev in evs:
        assert int(start * 1000) - 1 <= ev["timestamp"] <= int(end * 1000) + 1, ev


def test_invalid_utf8_and_control_characters(relay, output):
    body = (
        b"<13>1 2026-01-02T03:04:05.000006Z host app - - - "
        b"bad:\xff\xfe mid:\xc3\x28 cut:\xe2\x82 overlong:\xc0\xaf surrogate:\xed\xa0\x80 "
        b"ctl:\x01\x02\x1b\x7f tab:\t quote:\" backslash:\\ nul:\x00 cr:\r lf:\n "
        b"ok:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 end"
    )
    udp_msg = body + b" udp"
    tcp_msg = body + b" tcp"
    R.udp_send(relay.udp[0], [udp_msg])
    R.tcp_send(relay.tcp[0], R.octet(tcp_msg))
    evs = output.wait_count(2)
    want = sorted(m.decode("utf-8", "backslashreplace") for m in (udp_msg, tcp_msg))
    assert sorted(e["message"] for e in evs) == want
    assert all(e["timestamp"] == R.rfc3339_ms("2026-01-02T03:04:05.000006Z") for e in evs)
    # The JSON itself escapes control characters (json.loads in strict mode would reject raw
    # ones; Output already parsed it strictly) and carries \u0001-style escapes.
    raw = b"".join(
        b"".join(R.decode_members((output.out_dir / o).read_bytes())) for o in output.objects()
    ).decode("utf-8")
    assert "\\u0001" in raw and "\\u0000" in raw
    assert "\\\\xff\\\\xfe" in raw


def test_header_timestamps(relays, output):
    """RFC 5424 with fraction and offset, half-up rounding, RFC 3339 right after the PRI,
    RFC 3164 with inferred year in the --rfc3164-timezone zone."""
    zone = "America/New_York"
    r = relays.start(udp=[R.free_port()], tcp=[R.free_port()],
                     extra=["--rfc3164-timezone", zone])
    tz = zoneinfo.ZoneInfo(zone)
    now = time.time()
    local_now = datetime.datetime.fromtimestamp(now, tz).replace(microsecond=0)
    past = local_now - datetime.timedelta(days=30)
    future = local_now + datetime.timedelta(days=10)  # > 2 days ahead: previous year
    recent = local_now - datetime.timedelta(hours=1)
    cases = [
        ("2018-02-21T21:07:50.239881+00:00", 1519247270240, "5424 seed sample"),
        ("2018-02-21T21:07:50.0005Z", 1519247270001, "half up"),
        ("2018-02-21T21:07:50.0004999Z", 1519247270000, "below half"),
        ("2018-02-21T23:07:50.5+02:00", 1519247270500, "positive offset"),
        ("2018-02-21T16:07:50-05:00", 1519247270000, "negative offset, no fraction"),
        # No offset: read in the --rfc3164-timezone zone (EST, UTC-5, in February).
        ("2018-02-21T16:07:50.5", 1519247270500, "no offset"),
    ]
    tcp = []
    expected = {}
    for ts, ms, label in cases:
        msg = f"<13>1 {ts} host app - - - {label}"
        tcp.append(msg)
        expected[msg] = ms
    # rsyslog forward format: RFC 3339 right after the PRI, no version.
    msg = "<30>2018-02-21T21:07:50.123456+00:00 host prog[1]: rsyslog style"
    tcp.append(msg)
    expected[msg] = 1519247270123
    for when, label in ((past, "past"), (future, "future"), (recent, "recent")):
        stamp = R.rfc3164_stamp(when)
        msg = f"<13>{stamp} host prog[1]: 3164 {label}"
        tcp.append(msg)
        expected[msg] = R.rfc3164_ms(stamp, now, tz)
    R.tcp_send(r.tcp[0], "".join(m + "\n" for m in tcp).encode())
    evs = output.wait_count(len(tcp))
    got = {e["message"]: e["timestamp"] for e in evs}
    assert got == expected
    # Cross-check the inference oracle on the plain cases.
    assert expected[tcp[-1]] == int(recent.timestamp()) * 1000
    assert expected[tcp[-3]] == int(past.timestamp()) * 1000
    if future.year == local_now.year:
        assert expected[tcp[-2]] == int(future.replace(year=future.year - 1).timestamp()) * 1000



def test_udp_leading_octet_count(relay, output):
    """docs/design.md "Inputs": a leading octet count equal to the rest of the datagram is removed (loggen -P);
    one that does not match is part of the message."""
    body = b"<13>1 2026-01-02T03:04:05Z host app - - - counted datagram"
    start = time.time()
    R.udp_send(relay.udp[0], [R.octet(body), b"5 abc", R.octet(body + b" plus")[:-5] + b"\n"])
    evs = output.wait_count(3)
    msgs = sorted(e["message"] for e in evs)
    assert body.decode() in msgs
    rest = sorted(R.REWRITE_RE.match(m)["rest"] for m in msgs if R.REWRITE_RE.match(m))
    assert rest == sorted(["5 abc", R.octet(body + b" plus")[:-5].decode()])
    assert all(R.rfc3339_us(R.REWRITE_RE.match(m)["ts"])[0] / 1e6 >= start - 1
               for m in msgs if R.REWRITE_RE.match(m))


def test_rfc3164_new_year_with_the_clock_at_new_years_eve(relays, dirs):
    """The relay's wall clock at 2026-12-31 23:59:00 UTC (libfaketime): a sender 90 s ahead
    writes `Jan  1 00:00:30`, which is 2027, not 2026; one a second behind midnight stays in
    2026. Monotonic time is not faked, so flush timers run normally."""
    # libfaketime preloaded into the relay itself: the `faketime` command would stay the parent
    # and take the SIGTERM meant for the relay.
    [lib] = glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
    r = relays.start(
        tcp=[R.free_port()],
        env={"LD_PRELOAD": lib, "FAKETIME": "@2026-12-31 23:59:00",
             "FAKETIME_DONT_FAKE_MONOTONIC": "1"},
    )
    R.tcp_send(r.tcp[0], b"<13>Jan  1 00:00:30 host app: x\n<13>Dec 31 23:58:59 host app: y\n")
    assert r.stop() == 0, r.stderr
    # Objects are named by the faked clock, so they are read directly rather than through
    # R.Output, which checks that names are close to the real time.
    events = {}
    for path in sorted(p for p in dirs.out.rglob("*") if p.is_file()):
        for member in R.decode_members(path.read_bytes()):
            for ev in R.parse_member(member)["logEvents"]:
                events[ev["message"]] = ev["timestamp"]
    assert events == {
        "<13>Jan  1 00:00:30 host app: x": 1798761630000,  # 2027-01-01T00:00:30Z
        "<13>Dec 31 23:58:59 host app: y": 1798761539000,  # 2026-12-31T23:58:59Z
    }

