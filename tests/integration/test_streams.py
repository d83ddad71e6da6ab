"""Past one stream's quota: several streams, the adaptive send rate and uploads in flight,
against the Firehose stand-in's quota model (token buckets per stream, answered as Firehose
does: records refused one by one with ServiceUnavailableException, or the whole request).

Every test checks outcomes: which records arrived in which stream, exactly once, and what the
stand-in counted; none measures time."""

import collections
import time

import pytest

import firehose_standin as F
import relay as R
from test_firehose import assert_clean, assert_exactly_once, by_token, lines, wait_tokens

STREAMS = ("logs-a", "logs-b", "logs-c")


def start(relays, firehose, streams, tcp, extra=()):
    stream_args = []
    for name in streams:
        stream_args += ["--stream", name]
    args = R.listen_args(
        out=None, spool=relays.dirs.spool, tcp=[tcp], flush_interval="0.1",
        extra=stream_args + ["--region", firehose.region, "--endpoint-url", firehose.url,
                             "--sts-endpoint-url", firehose.url] + list(extra))
    env = firehose.relay_env(relays.dirs.root / "relay-home")
    return relays.start(tcp=[tcp], args=args, env=env)


def send_rounds(tcp, prefix, rounds, per_round, size=0, pause=0.15):
    """`rounds` connections one after another, each its own flush: many records."""
    want = []
    for rnd in range(rounds):
        R.tcp_send(tcp, lines(prefix, rnd, per_round, size))
        want += [f"{prefix}-{rnd}-{i}" for i in range(per_round)]
        time.sleep(pause)
    return want


def streams_of(firehose, prefix):
    """token -> the streams its copies were stored in."""
    out = collections.defaultdict(list)
    for index, rec in enumerate(firehose.records()):
        for token in by_token(firehose._decode(index, rec)["logEvents"], prefix):
            out[token].append(rec.stream)
    return out


def test_records_spread_over_several_streams_each_exactly_once(relays, firehose):
    for name in STREAMS:
        firehose.add_stream(name)
    # A WAN round trip keeps each stream's requests on the wire long enough for the others to
    # take the next records.
    firehose.set_latency(0.1)
    tcp = R.free_port()
    relay = start(relays, firehose, STREAMS, tcp)
    assert "Firehose streams logs-a, logs-b, logs-c are ACTIVE" in relay.stderr
    want = send_rounds(tcp, "multi", 30, 40)
    found = wait_tokens(firehose, "multi", want)
    assert_exactly_once(found, want)
    where = streams_of(firehose, "multi")
    assert all(len(s) == 1 for s in where.values())
    per_stream = collections.Counter(s[0] for s in where.values())
    assert set(per_stream) == set(STREAMS), per_stream
    assert not firehose.records(F.DEFAULT_STREAM)
    # The records do not depend on the stream: the same owner, group and log stream for all.
    docs = [doc for _, doc in firehose.decoded_records()]
    assert {(d["owner"], d["logGroup"], d["logStream"]) for d in docs} == {
        (F.DEFAULT_ACCOUNT, "syslog_message", "127.0.0.1")}
    assert_clean(firehose)
    assert relay.stop() == 0


def test_a_throttling_stream_gets_less(relays, firehose):
    firehose.add_stream("roomy")
    firehose.add_stream("tight")
    # "tight" takes 2 records a second; "roomy" has no quota.
    firehose.set_quota("tight", records_per_second=2)
    firehose.set_latency(0.05)
    tcp = R.free_port()
    relay = start(relays, firehose, ["tight", "roomy"], tcp)
    want = send_rounds(tcp, "thr", 40, 30, size=200)
    found = wait_tokens(firehose, "thr", want)
    assert_exactly_once(found, want)
    per_stream = collections.Counter(s[0] for s in streams_of(firehose, "thr").values())
    assert per_stream["roomy"] > per_stream["tight"], per_stream
    assert firehose.throttle_counts("tight")[1] > 0, "the quota never bit"
    assert_clean(firehose)
    assert relay.stop() == 0


def test_no_loss_no_duplicates_under_a_quota(relays, firehose):
    # One stream with a quota far below the offered load (about 15 records a second). The
    # byte meter holds at least one largest record (1,000 KiB), so records and requests bite.
    firehose.set_quota(F.DEFAULT_STREAM, bytes_per_second=200_000, records_per_second=5,
                       requests_per_second=3)
    firehose.set_latency(0.05)
    tcp = R.free_port()
    relay = start(relays, firehose, [F.DEFAULT_STREAM], tcp)
    want = send_rounds(tcp, "quota", 60, 100, size=300, pause=0.05)
    found = wait_tokens(firehose, "quota", want, timeout=120)
    assert_exactly_once(found, want)
    requests, throttled, refused = firehose.throttle_counts(F.DEFAULT_STREAM)
    assert throttled > 0, "the quota never bit: the test does not test it"
    # The send rate adapts: most requests pass; a retry storm would be throttled nearly always.
    assert throttled < requests / 2, (throttled, requests)
    assert not [r for r in firehose.records() if r.lost]
    assert_clean(firehose)
    assert relay.stop() == 0
    assert relay.counters()["records_delivered"] == len(firehose.records())


def test_uploads_in_flight_over_a_slow_link(relays, firehose):
    firehose.set_latency(0.4)
    tcp = R.free_port()
    relay = start(relays, firehose, [F.DEFAULT_STREAM], tcp)
    want = send_rounds(tcp, "wan", 20, 20, pause=0.1)
    found = wait_tokens(firehose, "wan", want)
    assert_exactly_once(found, want)
    assert firehose.max_in_flight > 1, "one request at a time over a 400 ms round trip"
    assert firehose.max_in_flight <= 8
    assert relay.stop() == 0


def test_streams_are_checked_at_start(relays, firehose):
    firehose.add_stream("ok")
    firehose.add_stream("creating", status="CREATING")
    tcp = R.free_port()
    relay = relays.start(
        tcp=[tcp], wait=False, env=firehose.relay_env(relays.dirs.root / "relay-home"),
        args=R.listen_args(spool=relays.dirs.spool, tcp=[tcp], extra=[
            "--stream", "ok", "--stream", "creating", "--region", firehose.region,
            "--endpoint-url", firehose.url, "--sts-endpoint-url", firehose.url]))
    assert relay.wait() == 78
    assert "Firehose stream 'creating' in us-east-1 is CREATING, not ACTIVE" in relay.stderr

    relay = relays.start(
        tcp=[tcp], wait=False, env=firehose.relay_env(relays.dirs.root / "relay-home"),
        args=R.listen_args(spool=relays.dirs.spool, tcp=[tcp], extra=[
            "--stream", "ok", "--stream", "ok", "--region", firehose.region,
            "--endpoint-url", firehose.url, "--sts-endpoint-url", firehose.url]))
    assert relay.wait() == 78
    assert "--stream ok is given twice" in relay.stderr
