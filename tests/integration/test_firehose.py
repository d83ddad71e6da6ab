"""The relay against the Firehose stand-in (docs/design.md "Spool and delivery"
and "AWS"): end to end over UDP and TCP with logger, start-up failures (exit 78 before any
listener opens), an outage while messages keep arriving, random per-record failures with lost
responses, throttling and 5xx answers, the request limits under a backlog, and credentials that
expire during a run.

Durations are kept short on purpose: the "outage for minutes" of the issue is a 20 s outage here
(longer than the uploader's 20 s backoff cap is not needed to prove that nothing is lost, the
spool grows and delivery resumes by itself), and expiring credentials use an Expiration just
over the relay's 10-minute forced-refresh window (botocore's mandatory window), so the relay
refreshes as soon as its 30 s refresh pacing allows."""

import base64
import collections
import os
import random
import re
import socket
import subprocess
import threading
import time

import pytest

import firehose_standin as F
import relay as R

EX_CONFIG = 78
LOGGER = "/usr/bin/logger"
STREAM = F.DEFAULT_STREAM
# Answers that mean the relay sent something the service would refuse.
MALFORMED = {
    "ValidationException", "InvalidArgumentException", "SerializationException",
    "InvalidSignatureException", "IncompleteSignatureException",
    "MissingAuthenticationTokenException", "UnrecognizedClientException",
    "UnknownOperationException", "SignatureDoesNotMatch", "IncompleteSignature",
    "MissingAuthenticationToken", "InvalidClientTokenId", "InvalidAction", "MissingAction",
}
TOKEN_RE = re.compile(r"\b(?P<tok>[a-z]+\d*-\d+-\d+)\b")


def start_relay(relays, firehose, udp=(), tcp=(), credentials="env", key=None, extra=(),
                env=None, wait=True, stream=STREAM, endpoint=None, owner=None, args=None):
    """A relay delivering to the stand-in every 0.2 s; credentials as in relay_env()."""
    if args is None:
        args = R.listen_args(
            out=None, spool=relays.dirs.spool, udp=udp, tcp=tcp, flush_interval="0.2",
            extra=firehose.relay_args(stream=stream, endpoint=endpoint, owner=owner) + list(extra),
        )
    e = firehose.relay_env(relays.dirs.root / "relay-home", credentials, key)
    e.update(env or {})
    return relays.start(udp=udp, tcp=tcp, args=args, env=e, wait=wait)


def tcp_send_from(source, port, data):
    """One TCP connection from `source` (any 127.0.0.0/8 address is local) carrying `data`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(data)
    finally:
        s.close()


def lines(prefix, start, n, size=0):
    """RFC 5424 messages carrying unique tokens `prefix-<round>-<i>`, LF-framed."""
    pad = " " + "x" * size if size else ""
    return b"".join(
        f"<13>1 - host app - - - {prefix}-{start}-{i} payload{pad}\n".encode() for i in range(n)
    )


def by_token(events, prefix):
    """token -> its events (every copy the stand-in stored), for tokens starting `prefix`."""
    found = collections.defaultdict(list)
    for ev in events:
        for m in TOKEN_RE.finditer(ev["message"]):
            if m["tok"].startswith(prefix):
                found[m["tok"]].append(ev)
    return found


def wait_tokens(firehose, prefix, want, timeout=R.WAIT_TIMEOUT):
    """Waits until every token in `want` is stored; returns token -> events."""
    want = set(want)
    firehose.wait_events(lambda evs: want <= set(by_token(evs, prefix)), timeout,
                         what=f"{len(want)} '{prefix}' messages")
    return by_token(firehose.events(), prefix)


def assert_exactly_once(found, want):
    assert set(found) == set(want), (
        f"missing {sorted(set(want) - set(found))[:10]}, unexpected "
        f"{sorted(set(found) - set(want))[:10]}")
    dupes = {t: len(evs) for t, evs in found.items() if len(evs) != 1}
    assert not dupes, f"delivered more than once: {dict(list(dupes.items())[:10])}"


def assert_clean(firehose):
    """The relay never sent what Firehose would refuse, and kept to the request limits."""
    bad = [(r.op, r.error) for r in firehose.requests() if r.error in MALFORMED]
    assert not bad, f"the stand-in refused requests: {bad[:10]}"
    puts = firehose.requests(op="PutRecordBatch")
    assert all(0 < r.records <= F.MAX_RECORDS for r in puts), [r.records for r in puts]
    assert all(len(r.data) <= F.MAX_RECORD_BYTES for r in firehose.records())


def request_sizes(firehose):
    """(records, decoded bytes) of each answered PutRecordBatch, from what was stored."""
    sizes = collections.defaultdict(lambda: [0, 0])
    for rec in firehose.records():
        sizes[rec.request][0] += 1
        sizes[rec.request][1] += len(rec.data)
    return sizes


def spool_files(spool):
    return len(list(spool.glob("kinesyslog-*.gz")))


# ---------------------------------------------------------------------------------------------
# End to end


@pytest.mark.parametrize("session_token", [False, True], ids=["long-term-key", "session-token"])
def test_logger_udp_and_tcp_end_to_end(relays, firehose, session_token):
    key = firehose.add_key(token=True) if session_token else firehose.default_key
    udp, tcp = R.free_port(), R.free_port()
    relay = start_relay(relays, firehose, udp=[udp], tcp=[tcp], key=key)
    sent = {}
    for name, flags in (("udp", ["-d", "-P", str(udp)]),
                        ("tcp", ["-T", "-P", str(tcp), "--octet-count"])):
        texts = [f"{name}-1-{i} via logger" for i in range(200)]
        texts.append(f"{name}-2-0 big " + "y" * 3000)
        subprocess.run([LOGGER, *flags, "-n", "127.0.0.1", "--rfc5424", "-t", "tag", "-S",
                        "4096"], input="".join(t + "\n" for t in texts).encode(),
                       env=dict(os.environ, TZ="UTC"), check=True, timeout=20)
        sent[name] = [t.split()[0] for t in texts]

    for name, want in sent.items():
        found = wait_tokens(firehose, name, want)
        assert_exactly_once(found, want)
        for evs in found.values():
            ev = evs[0]
            assert ev["owner"] == firehose.account
            assert ev["group"] == "syslog_message" and ev["stream"] == "127.0.0.1"
            assert R.UUID4_RE.match(ev["id"])
    big = by_token(firehose.events(), "tcp")["tcp-2-0"][0]["message"]
    assert big.endswith("big " + "y" * 3000), "a 3 KB message arrives whole"

    # Start-up calls came first, then deliveries, all signed by the configured key.
    reqs = firehose.requests()
    assert sorted((r.op, r.status) for r in reqs[:2]) == [
        ("DescribeDeliveryStream", 200), ("GetCallerIdentity", 200)]
    assert all(r.key_id == key.access_key_id for r in reqs)
    assert all(r.key_id == key.access_key_id and not r.lost for r in firehose.records())
    assert_clean(firehose)

    assert relay.stop() == 0
    counters = relay.counters()
    assert counters["records_delivered"] == len(firehose.records())
    assert counters["delivery_failures"] == 0
    assert spool_files(relays.dirs.spool) == 0


def test_owner_option_skips_sts(relays, firehose):
    udp = R.free_port()
    relay = start_relay(relays, firehose, udp=[udp], owner="999988887777")
    R.udp_send(udp, [f"<13>1 - h app - - - own-1-{i}".encode() for i in range(20)])
    found = wait_tokens(firehose, "own", [f"own-1-{i}" for i in range(20)])
    assert all(evs[0]["owner"] == "999988887777" for evs in found.values())
    assert not firehose.requests(service="sts"), "--owner: no GetCallerIdentity call"
    assert relay.stop() == 0


# ---------------------------------------------------------------------------------------------
# Start-up failures: one clear line, exit 78, before any listener opens


class ListenProbe:
    """Tries to connect to a TCP port every 20 ms while the relay starts."""

    def __init__(self, port):
        self.port = port
        self.connected = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                self.connected += 1
            except OSError:
                pass
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.connected


STARTUP_CASES = [
    # id, setup(firehose) -> dict(start_relay kwargs), words of which the line names one,
    # the stand-in's answer that the relay must have seen (or None)
    ("wrong-secret",
     lambda fh: dict(key=F.Key(fh.default_key.access_key_id, "wrong-secret")),
     ["signature"], "SignatureDoesNotMatch"),
    ("wrong-secret-with-owner",
     lambda fh: dict(key=F.Key(fh.default_key.access_key_id, "wrong-secret"),
                     owner="123456789012"),
     ["signature"], "InvalidSignatureException"),
    ("unknown-key",
     lambda fh: dict(key=F.Key("AKIAUNKNOWNUNKNOWN00", "secret")),
     ["InvalidClientTokenId", "security token", "credential", "access key"],
     "InvalidClientTokenId"),
    ("expired-token",
     lambda fh: dict(key=_revoked(fh)),
     ["expired", "ExpiredToken"], "ExpiredToken"),
    ("no-credentials",
     lambda fh: dict(credentials=None),
     ["credential"], None),
    ("unknown-stream",
     lambda fh: dict(stream="no-such-stream"),
     ["no-such-stream"], "ResourceNotFoundException"),
    ("stream-creating",
     lambda fh: dict(stream=_creating(fh)),
     ["creating-stream"], None),
    ("endpoint-unreachable",
     lambda fh: dict(endpoint=f"http://127.0.0.1:{R.free_port()}"),
     ["127.0.0.1", "connect", "unreachable", "refused", "endpoint"], None),
]


def _revoked(fh):
    key = fh.add_key(token=True)
    fh.revoke_key(key)
    return key


def _creating(fh):
    fh.add_stream("creating-stream", status="CREATING")
    return "creating-stream"


@pytest.mark.parametrize("name,setup,words,answer", STARTUP_CASES,
                         ids=[c[0] for c in STARTUP_CASES])
def test_startup_failure_exit_78(relays, firehose, name, setup, words, answer):
    # Slow answers widen the window in which a relay that opened its listeners too early
    # would be caught by the probe.
    firehose.set_delay(0.3)
    tcp = R.free_port()
    kwargs = setup(firehose)
    probe = ListenProbe(tcp)
    try:
        relay = start_relay(relays, firehose, udp=[R.free_port()], tcp=[tcp], wait=False,
                            **kwargs)
        code = relay.wait(timeout=90)
    finally:
        connected = probe.stop()
    err = relay.stderr
    assert code == EX_CONFIG, (code, err)
    assert not re.search(r"\bready\b", err), f"logged ready before failing:\n{err}"
    assert connected == 0, f"a TCP listener accepted {connected} connections before exit 78"
    problems = R.problem_lines(err)
    assert len(problems) == 1, f"want one line naming the problem, got:\n{err}"
    assert any(w.lower() in problems[0].lower() for w in words), (
        f"none of {words} named in {problems[0]!r}")
    if name == "stream-creating":
        assert "CREATING" in problems[0], problems[0]
    if answer is not None:
        assert firehose.requests(error=answer), f"the stand-in never answered {answer}"
    if name in ("no-credentials", "endpoint-unreachable"):
        assert not firehose.requests(service="firehose")
    assert not firehose.records()


# ---------------------------------------------------------------------------------------------
# Firehose unavailable while messages keep arriving


class Sender:
    """Sends one message every `interval` seconds over one TCP connection until stopped."""

    def __init__(self, port, prefix, interval=0.05):
        self.prefix = prefix
        self.sent = []
        self._sock = R.tcp_connect(port)
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        n = 0
        while not self._stop.is_set():
            tok = f"{self.prefix}-0-{n}"
            self._sock.sendall(f"<13>1 - host app - - - {tok} steady\n".encode())
            self.sent.append(tok)
            n += 1
            time.sleep(self._interval)

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._sock.close()
        return list(self.sent)


def test_outage_nothing_lost_spool_grows_delivery_resumes(relays, firehose):
    tcp = R.free_port()
    relay = start_relay(relays, firehose, tcp=[tcp])
    sender = Sender(tcp, "out")
    try:
        firehose.wait_count(10, timeout=20)
        stored_before = len(firehose.records())
        # 20 s without Firehose: answers cycle through 503, dropped connections and requests
        # held unanswered until the relay's own timeout.
        firehose.set_outage("mixed")
        files_at_start = spool_files(relays.dirs.spool)
        time.sleep(20)
        files_at_end = spool_files(relays.dirs.spool)
        stored_during = len(firehose.records()) - stored_before
        firehose.set_outage(None)
        time.sleep(1)
    finally:
        sent = sender.stop()
    assert stored_during == 0, "the outage let records through"
    assert files_at_end > files_at_start + 20, (
        f"spool did not grow during the outage: {files_at_start} -> {files_at_end} files")
    outage = firehose.requests(fault="outage")
    assert {r.fault for r in outage} >= {"outage-503", "outage-drop"}, "relay kept retrying"

    found = wait_tokens(firehose, "out", sent, timeout=60)
    assert_exactly_once(found, sent)
    assert relay.running()
    assert_clean(firehose)
    assert relay.stop() == 0
    assert relay.counters()["delivery_failures"] > 0
    assert spool_files(relays.dirs.spool) == 0


# ---------------------------------------------------------------------------------------------
# 30 % of records failing at random, with a few lost responses


def test_random_record_failures_and_lost_responses(relays, firehose):
    tcp = R.free_port()
    relay = start_relay(relays, firehose, tcp=[tcp])
    firehose.set_record_failure_rate(0.3, seed=42)
    firehose.lose_next(3)
    sources = [f"127.0.0.{i}" for i in range(2, 10)]
    want = []
    for rnd in range(6):
        for src in sources:
            prefix = "rnd" + src.rsplit(".", 1)[1]
            tcp_send_from(src, tcp, lines(prefix, rnd, 20))
            want += [f"{prefix}-{rnd}-{i}" for i in range(20)]
        time.sleep(0.4)
    time.sleep(3)
    firehose.set_record_failure_rate(0)

    found = wait_tokens(firehose, "rnd", want, timeout=60)
    assert set(found) == set(want)
    # The relay resends a record byte for byte (its spool file), so a copy is identified by
    # its bytes: exactly one copy was answered with a RecordId; the others were stored in
    # requests whose answers the stand-in dropped.
    copies = collections.defaultdict(list)
    for rec in firehose.records():
        copies[rec.data].append(rec)
    for recs in copies.values():
        assert sum(1 for r in recs if not r.lost) == 1, (
            f"a record was accepted {sum(1 for r in recs if not r.lost)} times with an answer")
    lost = [r for r in firehose.records() if r.lost]
    assert lost, "the lost responses lost nothing"
    assert firehose.pending_faults() == 0
    # Messages twice exactly where their record's response was lost.
    lost_data = collections.Counter(r.data for r in lost)
    for tok, evs in found.items():
        assert len({e["id"] for e in evs}) == 1, f"{tok} delivered as different events"
        rec = firehose.records()[evs[0]["record"]].data
        assert len(evs) == 1 + lost_data[rec], (tok, len(evs), lost_data[rec])
    dupes = sum(len(evs) - 1 for evs in found.values())
    print(f"{len(want)} messages, {len(copies)} records, {len(lost)} stored in lost responses, "
          f"{dupes} duplicate messages, "
          f"{sum(r.failed for r in firehose.requests(op='PutRecordBatch'))} record failures")
    assert sum(r.failed for r in firehose.requests(op="PutRecordBatch")) > 0
    assert_clean(firehose)

    assert relay.stop() == 0
    counters = relay.counters()
    assert counters["records_delivered"] == len(copies), "one RecordId seen per record"
    assert counters["delivery_failures"] > 0


# ---------------------------------------------------------------------------------------------
# Throttling, 5xx answers, dropped connections and slow answers


def test_throttling_and_server_errors_retried(relays, firehose):
    tcp = R.free_port()
    relay = start_relay(relays, firehose, tcp=[tcp])
    firehose.drop_next(1)
    firehose.slow_next(1, 2.0)
    firehose.fail_next(2, "ThrottlingException")
    firehose.fail_next(1, "500")
    firehose.fail_next(1, "503")
    firehose.fail_next(1, "502-raw")
    firehose.fail_next(1, "ServiceUnavailableException")
    want = []
    for rnd in range(4):
        R.tcp_send(tcp, lines("thr", rnd, 50))
        want += [f"thr-{rnd}-{i}" for i in range(50)]
        time.sleep(0.3)
    found = wait_tokens(firehose, "thr", want, timeout=60)
    assert_exactly_once(found, want)
    assert firehose.pending_faults() == 0, "the relay stopped retrying"
    faults = [r.fault for r in firehose.requests(op="PutRecordBatch") if r.fault]
    assert faults[0] == "drop" and faults[1].startswith("slow")
    assert_clean(firehose)
    assert relay.stop() == 0
    assert relay.counters()["delivery_failures"] > 0


# ---------------------------------------------------------------------------------------------
# A backlog is sent within the request limits: 500 records, 4 MiB


def test_backlog_respects_request_limits(relays, firehose):
    udp, tcp = R.free_port(), R.free_port()
    relay = start_relay(relays, firehose, udp=[udp], tcp=[tcp])

    # Many small records: 100 sources x 8 flushes while Firehose refuses everything.
    firehose.set_outage("503")
    want_small = []
    sock = {}
    try:
        for i in range(100):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((f"127.0.1.{i + 1}", 0))
            sock[i] = s
        for rnd in range(8):
            for i, s in sock.items():
                tok = f"small{i}-{rnd}-0"
                s.sendto(f"<13>1 - h app - - - {tok}".encode(), ("127.0.0.1", udp))
                want_small.append(tok)
            time.sleep(0.45)  # each round its own flush (--flush-interval 0.2)
    finally:
        for s in sock.values():
            s.close()
    # The last rounds' records reach the spool after their flush (later in a slow build).
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while spool_files(relays.dirs.spool) <= 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert spool_files(relays.dirs.spool) > 500
    firehose.set_outage(None)
    found = wait_tokens(firehose, "small", want_small, timeout=60)
    assert_exactly_once(found, want_small)
    sizes = request_sizes(firehose)
    assert max(n for n, _ in sizes.values()) == F.MAX_RECORDS, "backlog sent in full batches"

    # Few large records: ~10 MB of poorly compressible messages.
    firehose.set_outage("503")
    rng = random.Random(5)
    want_big = []
    for rnd in range(5):
        payload = b"".join(
            f"<13>1 - h app - - - big-{rnd}-{i} ".encode()
            + base64.b64encode(rng.randbytes(3000)) + b"\n"
            for i in range(500))
        R.tcp_send(tcp, payload)
        want_big += [f"big-{rnd}-{i}" for i in range(500)]
    # All of them spooled before the outage ends, so that they go out as a backlog.
    deadline = time.monotonic() + R.WAIT_TIMEOUT
    while time.monotonic() < deadline:
        spooled = by_token((e for rec in R.spool_records(relays.dirs.spool)
                            for e in rec["logEvents"]), "big")
        if len(spooled) == len(want_big):
            break
        time.sleep(0.2)
    before = set(sizes)
    firehose.set_outage(None)
    found = wait_tokens(firehose, "big", want_big, timeout=60)
    assert_exactly_once(found, want_big)
    big_requests = [v for k, v in request_sizes(firehose).items() if k not in before]
    assert max(b for _, b in big_requests) > 3_000_000, "backlog sent in large requests"
    assert all(b <= F.MAX_REQUEST_BYTES for _, b in big_requests)
    assert_clean(firehose)
    assert relay.stop() == 0


# ---------------------------------------------------------------------------------------------
# Credentials that expire during the run


def test_imds_credentials_expire_during_run(relays, firehose):
    # Expiration 10 min 15 s ahead: inside the relay's 15-minute advisory window at once and
    # inside the 10-minute mandatory window 15 s later. The relay tries a refresh at most once
    # every 30 s (RefreshingCredentials::kRetryMicros), so the new keys are in use about 30 s
    # after start; the test allows 60 s.
    first = firehose.add_key(token=True, expires_at=time.time() + 615)
    firehose.set_imds_role("kinesyslog-relay", first)
    tcp = R.free_port()
    relay = start_relay(relays, firehose, tcp=[tcp], credentials="imds")
    R.tcp_send(tcp, lines("cred", 0, 10))
    want = [f"cred-0-{i}" for i in range(10)]
    wait_tokens(firehose, "cred", want)
    assert firehose.requests(op="PutRecordBatch", key=first, status=200)

    # IMDS now serves new keys, valid for hours; messages keep coming.
    second = firehose.add_key(token=True, expires_at=time.time() + 6 * 3600)
    firehose.set_imds_role("kinesyslog-relay", second)
    deadline = time.monotonic() + 60
    rnd = 1
    while not firehose.requests(op="PutRecordBatch", key=second, status=200):
        assert time.monotonic() < deadline, "the relay never used the refreshed keys"
        R.tcp_send(tcp, lines("cred", rnd, 1))
        want.append(f"cred-{rnd}-0")
        rnd += 1
        time.sleep(0.5)

    # The old keys stop working; delivery goes on, signed with the new keys only.
    firehose.revoke_key(first)
    revoked_at = len(firehose.requests())
    R.tcp_send(tcp, lines("cred", rnd, 20))
    want += [f"cred-{rnd}-{i}" for i in range(20)]
    found = wait_tokens(firehose, "cred", want, timeout=30)
    assert_exactly_once(found, want)
    later = [r for r in firehose.requests(op="PutRecordBatch") if r.n >= revoked_at]
    assert later and all(r.key_id == second.access_key_id for r in later), (
        [(r.key_id, r.error) for r in later])
    assert all(evs[0]["owner"] == firehose.account for evs in found.values())
    assert firehose.requests(service="imds", key=second), "IMDS never served the new keys"
    assert all(r.status == 200 for r in firehose.requests(service="imds")), "IMDSv2 misused"
    assert_clean(firehose)
    assert relay.stop() == 0


def test_ecs_container_credentials(relays, firehose):
    key = firehose.add_key(token=True, expires_at=time.time() + 6 * 3600)
    firehose.set_ecs_key(key)
    tcp = R.free_port()
    relay = start_relay(relays, firehose, tcp=[tcp], credentials="ecs")
    R.tcp_send(tcp, lines("ecs", 0, 10))
    want = [f"ecs-0-{i}" for i in range(10)]
    assert_exactly_once(wait_tokens(firehose, "ecs", want), want)
    assert all(r.key_id == key.access_key_id
               for r in firehose.requests() if r.service in ("firehose", "sts"))
    assert [r.status for r in firehose.requests(service="ecs")][:1] == [200]
    assert_clean(firehose)
    assert relay.stop() == 0
