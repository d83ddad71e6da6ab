"""The metrics and health endpoint (`--prometheus-port`): a real Prometheus server scrapes the relay
every second while it relays, and the values read back through Prometheus's HTTP API match what
was sent; `promtool check metrics` accepts the exposition; /readyz turns 503 with its reason while
the Firehose stand-in is down and 200 again when it is back; malformed, slow and body-carrying
requests get the documented answers; every metric the Grafana dashboard uses is exported."""

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

import firehose_standin as F
import relay as R

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
LOGGER = "/usr/bin/logger"
DASHBOARD = R.REPO / "deploy" / "grafana-dashboard.json"


def metrics_args(port, extra=()):
    return ["--prometheus-port", str(port), "--prometheus-address", "127.0.0.1", *extra]


def http_get(port, path, timeout=10):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def raw_exchange(port, data, timeout=15):
    """Everything the endpoint answers to `data` on one connection, until it closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        return R.read_until_closed(s, timeout)
    finally:
        s.close()


def status_of(answer):
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert m, answer[:200]
    return int(m.group(1))


def scrape_families(port):
    """Sample names of one /metrics answer."""
    status, text = http_get(port, "/metrics")
    assert status == 200
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines()
            if line and not line.startswith("#")}


def send_lines(port, lines, udp=False):
    """One logger run sending each line as a message (RFC 5424 with a timestamp, so the relay
    keeps the text as sent)."""
    subprocess.run(
        [LOGGER, "-d" if udp else "-T", "-n", "127.0.0.1", "-P", str(port), "--rfc5424",
         "-t", "metrics"],
        input="".join(line + "\n" for line in lines).encode(), check=True, timeout=30,
    )


class Prometheus:
    """/usr/bin/prometheus scraping `targets` every second, its data in a temporary directory."""

    def __init__(self, directory, targets):
        directory.mkdir(parents=True, exist_ok=True)
        self.port = R.free_port(udp=False)
        config = directory / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: kinesyslog\n    static_configs:\n"
            f"      - targets: {json.dumps(targets)}\n"
        )
        self.log = directory / "prometheus.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}",
                 f"--storage.tsdb.path={directory / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        deadline = time.monotonic() + R.READY_TIMEOUT
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"prometheus did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def _ready(self):
        try:
            return http_get(self.port, "/-/ready", timeout=2)[0] == 200
        except OSError:
            return False

    def query(self, expr):
        """{labels-as-tuple: value} of an instant query."""
        q = urllib.parse.urlencode({"query": expr})
        status, body = http_get(self.port, f"/api/v1/query?{q}")
        assert status == 200, body
        doc = json.loads(body)
        assert doc["status"] == "success", doc
        return {tuple(sorted(r["metric"].items())): float(r["value"][1])
                for r in doc["data"]["result"]}

    def value(self, expr):
        result = self.query(expr)
        return next(iter(result.values())) if len(result) == 1 else None

    def wait_value(self, expr, expected, timeout=R.WAIT_TIMEOUT):
        """Polls until the query has exactly one series whose value is `expected`."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.value(expr)
            if got == expected:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr}: {got} in Prometheus, expected {expected}")
            time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def prometheus_for(tmp_path):
    started = []

    def start(*ports):
        p = Prometheus(tmp_path / f"prometheus-{len(started)}",
                       [f"127.0.0.1:{port}" for port in ports])
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def test_prometheus_reads_back_what_was_sent(relays, output, prometheus_for):
    tcp, udp, mport = R.free_port(), R.free_port(), R.free_port(udp=False)
    prom = prometheus_for(mport)
    relays.start(udp=[udp], tcp=[tcp], extra=metrics_args(mport))
    tcp_lines = [f"tcp message {i}" for i in range(60)]
    udp_lines = [f"udp message {i:03d}" for i in range(25)]
    send_lines(tcp, tcp_lines)
    send_lines(udp, udp_lines, udp=True)
    events = output.wait_count(len(tcp_lines) + len(udp_lines))
    records = output.records()

    # What arrived is exactly what was sent (the text of each message is kept as sent), so the
    # byte counts follow from the delivered messages: UDP datagrams are the message, TCP frames
    # the message and its LF.
    udp_bytes = sum(len(e["message"].encode()) for e in events if "udp message" in e["message"])
    tcp_bytes = sum(len(e["message"].encode()) + 1 for e in events if "tcp message" in e["message"])
    sel = f'job="kinesyslog",instance="127.0.0.1:{mport}"'
    prom.wait_value(f'kinesyslog_message_count_total{{{sel},transport="tcp",port="{tcp}"}}', 60)
    prom.wait_value(f'kinesyslog_message_count_total{{{sel},transport="udp",port="{udp}"}}', 25)
    prom.wait_value(f'kinesyslog_message_bytes_total{{transport="udp",port="{udp}"}}', udp_bytes)
    prom.wait_value(f'kinesyslog_message_bytes_total{{transport="tcp",port="{tcp}"}}', tcp_bytes)
    prom.wait_value('kinesyslog_upload_records_total{outcome="delivered"}', len(records))
    prom.wait_value("kinesyslog_batch_records_sum", len(records))
    prom.wait_value("kinesyslog_record_bytes_count", len(records))
    prom.wait_value("kinesyslog_listener_count", 2)
    prom.wait_value("kinesyslog_spool_count", 0)
    prom.wait_value("kinesyslog_udp_datagrams_total", 25)
    prom.wait_value("kinesyslog_connections_accepted_total", 1)
    prom.wait_value('kinesyslog_messages_dropped_total{reason="udp_spool_full"}', 0)
    prom.wait_value("kinesyslog_ready", 1)
    prom.wait_value(f"up{{{sel}}}", 1)
    assert prom.value("process_resident_memory_bytes") > 0
    assert prom.value("process_open_fds") > 0
    assert prom.value("process_start_time_seconds") > time.time() - 3600
    # The exposition of a relay that has relayed passes promtool's checks and lint.
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=http_get(mport, "/metrics")[1],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and check.stdout == "" and check.stderr == "", (
        check.stdout + check.stderr)


def start_firehose_relay(relays, firehose, mport, tcp, extra=()):
    args = R.listen_args(out=None, spool=relays.dirs.spool, tcp=[tcp], flush_interval="0.2",
                         extra=firehose.relay_args() + metrics_args(mport, extra))
    env = firehose.relay_env(relays.dirs.root / "relay-home")
    return relays.start(tcp=[tcp], args=args, env=env)


def test_firehose_delivery_metrics(relays, firehose, prometheus_for):
    tcp, mport = R.free_port(), R.free_port(udp=False)
    prom = prometheus_for(mport)
    start_firehose_relay(relays, firehose, mport, tcp)
    firehose.fail_next(2, "ServiceUnavailableException")
    send_lines(tcp, [f"to firehose {i}" for i in range(40)])
    firehose.wait_count(40, stream=F.DEFAULT_STREAM)

    puts = firehose.requests(op="PutRecordBatch")
    throttled = [r for r in puts if r.error == "ServiceUnavailableException"]
    assert len(throttled) == 2
    stored = firehose.records()
    prom.wait_value("kinesyslog_upload_requests_total", len(puts))
    prom.wait_value("kinesyslog_upload_failed_requests_total", 2)
    prom.wait_value('kinesyslog_upload_records_total{outcome="delivered"}', len(stored))
    prom.wait_value("kinesyslog_upload_bytes_total", sum(len(r.data) for r in stored))
    prom.wait_value('kinesyslog_firehose_request_errors_total{error="ServiceUnavailableException"}',
                    2)
    prom.wait_value("kinesyslog_firehose_throttled_requests_total", 2)
    prom.wait_value("kinesyslog_upload_retries_total", 2)
    prom.wait_value("kinesyslog_upload_duration_seconds_count", len(puts))
    prom.wait_value("kinesyslog_spool_count", 0)
    # The one stream's own series: the same requests, throttles and records, named by stream.
    stream = f'stream="{F.DEFAULT_STREAM}"'
    prom.wait_value(f"kinesyslog_firehose_stream_requests_total{{{stream}}}", len(puts))
    prom.wait_value(f"kinesyslog_firehose_stream_throttled_requests_total{{{stream}}}", 2)
    prom.wait_value(f'kinesyslog_firehose_stream_records_total{{{stream},outcome="accepted"}}',
                    len(stored))
    prom.wait_value(f"kinesyslog_firehose_stream_bytes_total{{{stream}}}",
                    sum(len(r.data) for r in stored))
    prom.wait_value(f"kinesyslog_firehose_stream_requests_in_flight{{{stream}}}", 0)
    assert prom.value(f"kinesyslog_firehose_stream_send_rate_bytes{{{stream}}}") is not None
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=http_get(mport, "/metrics")[1],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and check.stdout == "" and check.stderr == "", (
        check.stdout + check.stderr)


def wait_readyz(port, status, timeout=R.WAIT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        got = http_get(port, "/readyz")
        if got[0] == status:
            return got[1]
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz still {got} after {timeout} s, expected {status}")
        time.sleep(0.1)


def test_readyz_follows_delivery(relays, firehose):
    tcp, mport = R.free_port(), R.free_port(udp=False)
    start_firehose_relay(relays, firehose, mport, tcp, extra=["--unhealthy-spool-age", "2"])
    assert http_get(mport, "/healthz") == (200, "alive\n")
    assert wait_readyz(mport, 200) == "ready\n"

    firehose.set_outage("drop")  # the stand-in answers nothing, as if stopped
    send_lines(tcp, ["while firehose is away"])
    reason = wait_readyz(mport, 503)
    assert re.fullmatch(r"(oldest spooled record is \d+ s old|every upload has failed for \d+ s)"
                        r" \(limit 2 s\)\n", reason), reason
    assert http_get(mport, "/healthz")[0] == 200  # alive all along
    status, text = http_get(mport, "/metrics")
    assert status == 200 and "\nkinesyslog_ready 0\n" in text
    assert float(re.search(r"\nkinesyslog_spool_age (\S+)\n", text).group(1)) >= 2

    firehose.set_outage(None)
    assert wait_readyz(mport, 200) == "ready\n"
    firehose.wait_count(1, lambda e: "while firehose is away" in e["message"])


def test_bad_requests_get_the_documented_answers(relays):
    mport = R.free_port(udp=False)
    relays.start(tcp=[R.free_port()], extra=metrics_args(mport))
    cases = [
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200),
        (b"HEAD /readyz HTTP/1.0\r\n\r\n", 200),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40), 400),  # a TLS hello
        (b"GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET /metrics HTTP/2.0\r\n\r\n", 505),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 431),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 413),
        (b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         413),
        (b"PUT /metrics HTTP/1.1\r\n\r\n", 405),
        (b"DELETE /readyz HTTP/1.1\r\n\r\n", 405),
        (b"GET / HTTP/1.1\r\n\r\n", 404),
        (b"GET /metrics.bak HTTP/1.1\r\n\r\n", 404),
    ]
    for request, expected in cases:
        answer = raw_exchange(mport, request)
        assert status_of(answer) == expected, (request[:60], answer[:200])
        assert b"\r\nConnection: close\r\n" in answer
    head = raw_exchange(mport, b"HEAD /metrics HTTP/1.1\r\n\r\n")
    assert head.endswith(b"\r\n\r\n")  # no body

    # A request that never completes, and a connection that sends nothing: 408, then closed.
    assert status_of(raw_exchange(mport, b"GET /metrics HTTP/1.1\r\nHost: x\r\n")) == 408
    assert status_of(raw_exchange(mport, b"")) == 408

    # At most 32 connections: one more is closed unanswered; once they go, scrapes work again.
    held = [socket.create_connection(("127.0.0.1", mport), timeout=10) for _ in range(32)]
    try:
        # Connections are accepted in the order they arrived, so the 32 are registered before
        # the next one is looked at.
        assert raw_exchange(mport, b"GET /healthz HTTP/1.1\r\n\r\n") == b""
    finally:
        for s in held:
            s.close()
    # The relay frees a slot when it reads that connection's end, which a slow relay (the TSan
    # build, a loaded machine) does a moment after the closes: until then a scrape is still
    # closed unanswered, and counted as refused.
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    refused_again = 0
    while True:
        try:
            answer = http_get(mport, "/healthz")
            break
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            refused_again += 1
            time.sleep(0.05)
    assert answer == (200, "alive\n")
    text = http_get(mport, "/metrics")[1]
    assert re.search(r'\nkinesyslog_http_requests_total\{code="408"\} 2\n', text), text
    assert f"\nkinesyslog_http_connections_refused_total {1 + refused_again}\n" in text


def test_options_from_environment_and_port_in_use(relays, dirs):
    mport = R.free_port(udp=False)
    env = {"KINESYSLOG_PROMETHEUS_PORT": str(mport),
           "KINESYSLOG_PROMETHEUS_ADDRESS": "127.0.0.1",
           "KINESYSLOG_UNHEALTHY_SPOOL_AGE": "7"}
    relays.start(tcp=[R.free_port()], env=env)
    assert http_get(mport, "/healthz") == (200, "alive\n")
    # A second relay asking for the same metrics port stops with one line and exit 78.
    args = R.listen_args(out=dirs.out, spool=dirs.root / "spool2", tcp=[R.free_port()],
                         extra=metrics_args(mport))
    done = R.run_relay(args)
    stderr = done.stderr.decode()
    assert done.returncode == 78, stderr
    assert f"metrics endpoint 127.0.0.1:{mport}" in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    help_text = R.run_relay(["listen", "--help"]).stdout.decode()
    for option in ("--prometheus-port", "--prometheus-address", "--unhealthy-spool-age"):
        assert option in help_text


def test_dashboard_uses_only_exported_metrics(relays):
    tcp, mport = R.free_port(), R.free_port(udp=False)
    relays.start(tcp=[tcp], extra=metrics_args(mport))
    exported = scrape_families(mport)
    doc = json.loads(DASHBOARD.read_text())
    exprs = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "query") and isinstance(value, str):
                    exprs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    assert exprs, "the dashboard has no queries"
    used = set()
    for expr in exprs:
        used |= set(re.findall(r"\b((?:kinesyslog|process)_[a-z0-9_]+)", expr))
    assert used, exprs
    # Firehose-only families are exported by Firehose relays; the output-directory relay here
    # shows every other one.
    firehose_only = {n for n in used if n.startswith("kinesyslog_firehose_")}
    missing = sorted(n for n in used - firehose_only if n not in exported)
    assert not missing, f"the dashboard uses metrics the relay does not export: {missing}"
    for name in firehose_only:
        assert re.fullmatch(r"kinesyslog_firehose_((record_errors|request_errors|throttled_requests|"
                            r"mismatched_responses|stream_bytes)_total|stream_send_rate_bytes)",
                            name), name
