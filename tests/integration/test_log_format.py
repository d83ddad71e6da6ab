"""`--log-format json`: every line the relay writes to stderr is one JSON object with the text
line's fields (time, level, message), whatever bytes the message quotes."""

import json
import os
import re
import signal
import subprocess
import time

import relay as R

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LEVELS = {"debug", "info", "warning", "error", "critical"}


def json_lines(stderr_bytes):
    """Every stderr line as a parsed object; fails on a line that is not one JSON object."""
    objects = []
    text = stderr_bytes.decode("utf-8")  # strict: the escaper writes valid UTF-8 only
    assert text.endswith("\n"), text[-200:]
    for line in text.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        assert list(obj) == ["time", "level", "message"], line
        assert TIME_RE.match(obj["time"]), line
        assert obj["level"] in LEVELS, line
        assert isinstance(obj["message"], str), line
        objects.append(obj)
    return objects


def test_every_stderr_line_is_a_json_object(relays, dirs, output):
    # A spool path with a quote, a backslash, a tab, UTF-8 and a byte that is not UTF-8: the
    # ready line quotes it.
    spool = os.path.join(os.fsencode(dirs.root), b'sp"o\\ol\t\xc3\xa9-\xff')
    os.mkdir(spool)
    udp, tcp, proxied = R.free_port(), R.free_port(), R.free_port()
    r = relays.start(
        udp=[udp], tcp=[tcp, proxied], spool=os.fsdecode(spool),
        extra=["--log-format", "json", "--proxy-protocol", str(proxied)],
    )
    subprocess.run(["logger", "-d", "-n", "127.0.0.1", "-P", str(udp), "-t", "tag",
                    'json "log" test'], check=True, timeout=20)
    # Not a PROXY header: a warning line naming the peer.
    s = R.tcp_connect(proxied)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    assert R.closed_by_peer(s)
    s.close()
    output.wait_count(1)
    r.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while '"message":"counters: ' not in r.stderr:  # the SIGUSR1 line, once written
        assert r.running() and time.monotonic() < deadline, r.stderr[-3000:]
        time.sleep(0.02)
    assert r.stop() == 0

    lines = json_lines(r.stderr_path.read_bytes())
    messages = [o["message"] for o in lines]
    ready = [m for m in messages if m.startswith("ready: ")]
    assert len(ready) == 1, messages
    # \xff is not UTF-8: it appears as the text \xff, as in records.
    assert 'spool ' + os.fsdecode(dirs.root) + '/sp"o\\ol\té-\\xff;' in ready[0], ready[0]
    assert any(o["level"] == "warning" and "PROXY" in o["message"] for o in lines), messages
    assert any(m.startswith("counters: ") for m in messages), messages
    assert messages[-1].startswith("final counters: "), messages
    assert r.counters()["proxy_headers_rejected"] == 1


def test_start_up_error_is_a_json_line_from_the_environment(dirs):
    # No destination: exit 78 with one line, here a JSON one (KINESYSLOG_LOG_FORMAT).
    result = R.run_relay(
        ["listen", "--address", "127.0.0.1", "--udp-port", str(R.free_port()),
         "--spool-dir", str(dirs.spool)],
        env={"KINESYSLOG_LOG_FORMAT": "json"},
    )
    assert result.returncode == 78, result.stderr
    lines = json_lines(result.stderr)
    assert [o["level"] for o in lines] == ["error"], lines
    assert "no destination" in lines[0]["message"]


def test_text_stays_the_default(relays):
    r = relays.start(udp=[R.free_port()])
    assert r.stop() == 0
    first = r.stderr.splitlines()[0]
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z \[info\] ", first), first
