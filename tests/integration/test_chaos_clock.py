"""Wall-clock jumps while the relay runs (docs/operations.md "Failure modes"): libfaketime
preloaded into the relay reads its offset from a file on every call (FAKETIME_TIMESTAMP_FILE
with FAKETIME_NO_CACHE=1, libfaketime 0.9.10), and the test rewrites the file: the wall clock
set back an hour, then forward a day. CLOCK_MONOTONIC is not faked
(FAKETIME_DONT_FAKE_MONOTONIC=1), as a real clock step (NTP, an operator's `date -s`) leaves it
alone. Flush intervals and the delivery backoff are timed by the monotonic clock, so neither
stalls; event timestamps and object keys follow the wall clock, faked offset included."""

import datetime
import glob
import re
import subprocess
import time
import urllib.request

import chaos as C
import relay as R

UTC = datetime.timezone.utc
HOUR = 3600
DAY = 86400
# Slack for the event timestamps: the relay reads the clock once per read call.
SLACK_MS = 50


def faked_events(*dirs):
    """(object key, event) of every object in `dirs`, read directly: the keys carry the faked
    time, which R.Output would refuse as far from now."""
    found = []
    for top in dirs:
        for path in sorted(p for p in top.rglob("*") if p.is_file()):
            if any(part.startswith(".") for part in path.relative_to(top).parts):
                continue
            key = str(path.relative_to(top))
            for member in R.decode_members(path.read_bytes()):
                for ev in R.parse_member(member)["logEvents"]:
                    found.append((key, ev))
    return found


def set_aside(out_dir, seen):
    """Moves what was delivered out of the output directory, so that a blocker can take the
    place of the year directory."""
    n = len(list(seen.iterdir()))
    (seen / str(n)).mkdir()
    for entry in out_dir.iterdir():
        if not entry.name.startswith("."):
            entry.rename(seen / str(n) / entry.name)


def spool_age(prometheus):
    with urllib.request.urlopen(f"http://127.0.0.1:{prometheus}/metrics", timeout=10) as a:
        text = a.read().decode()
    return float(re.search(r"^kinesyslog_spool_age (\S+)$", text, re.M).group(1))


def block(out_dir, offset):
    """A regular file where this hour's year directory must go (the faked year, and the next
    one around New Year): every delivery fails and is retried with backoff."""
    blockers = []
    for extra in (0, 120):
        when = datetime.datetime.fromtimestamp(time.time() + offset + extra, datetime.timezone.utc)
        b = out_dir / f"{when.year:04d}"
        if not b.exists():
            b.write_text("not a directory\n")
            blockers.append(b)
    return blockers


class Phase:
    """Messages sent over TCP and UDP in one clock phase, bracketed by the real time."""

    def __init__(self, tag, tcp_port, udp_port, n=200):
        self.ids = {f"{tag}-{i}" for i in range(n)}
        self.before = time.time()
        s = R.tcp_connect(tcp_port)
        # No header timestamp: the event time is the receive time (docs/design.md "Events").
        s.sendall(b"".join(f"<13>app: id={i} clock\n".encode() for i in sorted(self.ids)
                           if int(i.rsplit("-", 1)[1]) % 2 == 0))
        s.close()
        R.udp_send(udp_port, [f"<13>app: id={i} clock".encode() for i in sorted(self.ids)
                              if int(i.rsplit("-", 1)[1]) % 2 == 1], pace=0.0005)

    def sent(self):
        self.after = time.time()


def faketime_env(lib, offset_file):
    return {"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": str(offset_file),
            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def test_faketime_offset_file_moves_the_wall_clock_only(tmp_path):
    """The mechanism the clock test relies on, in a process of its own: the offset file is
    read on every call, the wall clock moves with it, the monotonic clock does not."""
    [lib] = glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
    offset_file = tmp_path / "faketime"
    offset_file.write_text(f"-{HOUR}\n")
    script = ("import pathlib, sys, time\n"
              "a = (time.time(), time.monotonic())\n"
              f"pathlib.Path({str(offset_file)!r}).write_text('+{DAY}\\n')\n"
              "b = (time.time(), time.monotonic())\n"
              "print(*a, *b)\n")
    before = (time.time(), time.monotonic())
    out = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True,
                         env=dict(faketime_env(lib, offset_file), PATH="/usr/bin:/bin"),
                         timeout=30, check=True).stdout
    after = (time.time(), time.monotonic())
    wall_a, mono_a, wall_b, mono_b = (float(x) for x in out.split())
    assert before[0] - HOUR - 1 <= wall_a <= after[0] - HOUR + 1, (before, wall_a)
    assert before[0] + DAY - 1 <= wall_b <= after[0] + DAY + 1, (before, wall_b)
    assert before[1] <= mono_a <= mono_b <= after[1], (before, mono_a, mono_b, after)


def test_wall_clock_jumps_back_an_hour_and_forward_a_day(relays, dirs, tmp_path):
    [lib] = glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
    offset_file = tmp_path / "faketime"
    offset_file.write_text("+0\n")
    prometheus = R.free_port()
    tcp, udp = R.free_port(), R.free_port()
    # libfaketime preloaded into the relay itself (the `faketime` command would stay the parent
    # and take the SIGTERM meant for the relay).
    r = relays.start(
        tcp=[tcp], udp=[udp], flush_interval="1",
        extra=["--prometheus-port", str(prometheus), "--prometheus-address", "127.0.0.1"],
        env=faketime_env(lib, offset_file))
    id_re = re.compile(r"id=(\S+) ")
    seen = tmp_path / "seen"
    seen.mkdir()

    def check(phase, offset, key_offset=None):
        """Every message of `phase` delivered once, its timestamp the faked receive time
        (`offset`), its object named by the faked delivery time (`key_offset`)."""
        key_offset = offset if key_offset is None else key_offset
        found = C.poll(lambda: (lambda f: f if phase.ids <= {id_re.search(e["message"]).group(1)
                                                              for _, e in f} else None)(
            faked_events(dirs.out, seen)), what=f"the messages sent at offset {offset}")
        mine = [(k, e) for k, e in found if id_re.search(e["message"]).group(1) in phase.ids]
        assert len(mine) == len(phase.ids), "each message once"
        lo = int((phase.before + offset) * 1000) - SLACK_MS
        hi = int((phase.after + offset) * 1000) + SLACK_MS
        for key, e in mine:
            assert lo <= e["timestamp"] <= hi, (
                f"event time {e['timestamp']} outside [{lo}, {hi}] at offset {offset}")
            # The key is the delivery time, between the send and now, on the faked clock.
            hours = {f"{datetime.datetime.fromtimestamp(t + key_offset, UTC):%Y/%m/%d/%H}/"
                     for t in (phase.before, time.time())}
            assert any(h in key for h in hours), (key, hours)

    sent = 0

    def read_all(phase):
        """Waits until the relay has read every message so far, so that a clock step written
        next cannot fall in the middle of a phase."""
        nonlocal sent
        sent += len(phase.ids)
        C.poll(lambda: r.counters_now()["messages_received"] >= sent,
               what=f"the relay to read {sent} messages")
        # The phase ends when the relay has read it, not when the sender finished: a relay slowed
        # down (the TSan build, a loaded machine) reads, and stamps, well after the last send.
        phase.sent()

    # Before any jump.
    p0 = Phase("c0", tcp, udp)
    read_all(p0)
    check(p0, 0)
    set_aside(dirs.out, seen)

    # Back an hour while delivery is failing with backoff (p1 spooled, waiting for it) and while
    # messages sit in the flush buffers (p2, read just before the step, flushed 1 s after
    # it): the backoff still ends within its 20 s cap once the output directory works again,
    # and the buffers still flush after --flush-interval, both timed by the monotonic clock.
    blockers = block(dirs.out, 0)
    p1 = Phase("c1", tcp, udp)
    read_all(p1)
    failures = r.counters_now()["delivery_failures"]
    C.poll(lambda: r.counters_now()["delivery_failures"] >= failures + 5,
           what="delivery failing with backoff")
    p2 = Phase("c2", tcp, udp)
    read_all(p2)
    offset_file.write_text(f"-{HOUR}\n")
    p3 = Phase("c3", tcp, udp)
    read_all(p3)
    for b in blockers:
        b.unlink()
    # Each message keeps the wall-clock time it was read at; delivery is after the step.
    check(p1, 0, key_offset=-HOUR)
    check(p2, 0, key_offset=-HOUR)
    check(p3, -HOUR)
    set_aside(dirs.out, seen)

    # Forward a day, with records spooled and delivery failing: the spool's age (readiness,
    # kinesyslog_spool_age) is measured by the monotonic clock, so it does not report a
    # backlog written seconds ago as a day old.
    blockers = block(dirs.out, -HOUR) + block(dirs.out, DAY)
    p4 = Phase("c4", tcp, udp)
    read_all(p4)
    C.poll(lambda: spool_age(prometheus) > 0, what="records spooled")
    offset_file.write_text(f"+{DAY}\n")
    p5 = Phase("c5", tcp, udp)
    read_all(p5)
    age = spool_age(prometheus)
    assert age < 600, f"spool age {age} s after the clock jumped a day forward"
    for b in blockers:
        b.unlink()
    check(p4, -HOUR, key_offset=DAY)
    check(p5, DAY)

    # Nothing stalled and nothing was lost or doubled.
    assert r.stop() == 0, r.stderr[-3000:]
    ids = [id_re.search(e["message"]).group(1) for _, e in faked_events(dirs.out, seen)]
    assert len(ids) == len(set(ids)) == sent == 6 * 200
    c = r.counters()
    assert c["delivery_failures"] > 0, c
