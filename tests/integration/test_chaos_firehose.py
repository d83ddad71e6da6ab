"""Firehose misbehaving while messages keep arriving (docs/operations.md "Failure modes"): the
stand-in black-holes requests (reads them, never answers), answers slowly, resets the
connection in the middle of its answer, answers HTTP 200 with malformed JSON, and answers
HTTP 200 with every record failed. For each: nothing is lost (every message delivered exactly
once after the fault, or more than once only where the stand-in stored a record whose answer
the relay never got: its `lost` flag), the relay's resident memory stays bounded while the
fault lasts, the request rate to the stand-in stays bounded, and the backoff shows in the
Prometheus metrics."""

import collections
import math
import re
import time
import urllib.request

import pytest

import chaos as C
import relay as R

LANES = 8  # requests in flight per stream (docs/design.md "Delivery to Firehose")
BACKOFF_BASE = 0.1  # seconds, before jitter
RATE = 1000  # messages per second from the sender, all through the fault
FAULT_MESSAGES = 3000  # the fault lasts at least this many messages (3 s)
# Resident memory the relay may add while the fault lasts. What it holds then: the records are
# spooled to disk as they are made (the backlog is files, not memory); in memory are at most two
# flushes per worker being filled and encoded (2 x --flush-size 256K x 2 workers = 1 MiB), the
# requests in flight (8 lanes, each at most its batch: with 3 s of 200-byte messages, under
# 1 MiB of gzip, times about 2.5 for the base64 JSON body and libcurl's copy) and the spool's
# index. 16 MiB leaves room for the allocator's arenas and still fails a relay that keeps the
# messages or the failed requests in memory across retries (the fault's messages alone are
# FAULT_MESSAGES x 200 bytes per retry round).
RSS_GROWTH_KIB = 16 * 1024

METRIC_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def scrape(port):
    """The relay's /metrics as {name: {labels: value}}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    out = collections.defaultdict(dict)
    for line in text.splitlines():
        m = METRIC_RE.match(line)
        if m:
            out[m[1]][m[2] or ""] = float(m[3])
    return out


def total(metrics, name, labels=None):
    """Sum of a metric's series (those whose labels contain `labels`)."""
    return sum(v for k, v in metrics.get(name, {}).items() if labels is None or labels in k)


def max_requests(seconds):
    """At most this many PutRecordBatch requests in `seconds` of failures: each of the LANES
    lanes sends one, and every failure grows the stream's shared backoff (100 ms doubling, full
    jitter). Counting every jittered pause as zero would allow a tight loop; the bound instead
    lets each lane send once per doubling step the fault can hold, plus one each round for the
    jitter's short draws: LANES x (2 + log2(seconds / base)) x 2. A relay without backoff sends
    hundreds a second."""
    return int(LANES * (2 + math.log2(max(seconds, BACKOFF_BASE) / BACKOFF_BASE)) * 2)


def start(relays, firehose, prometheus):
    tcp = R.free_port()
    args = R.listen_args(
        out=None, spool=relays.dirs.spool, tcp=[tcp], flush_interval="0.2",
        extra=firehose.relay_args() + ["--prometheus-port", str(prometheus),
                                       "--prometheus-address", "127.0.0.1",
                                       "--flush-size", "256K"])
    env = firehose.relay_env(relays.dirs.root / "relay-home")
    return relays.start(tcp=[tcp], args=args, env=env)


def start_fault(firehose, mode):
    if mode == "slow":
        firehose.set_delay(1.0)
    else:
        firehose.set_outage(mode)


def end_fault(firehose, mode):
    firehose.set_delay(0)
    firehose.set_outage(None)


def fault_visible(mode, firehose, m0, m, puts_before, seen):
    """The fault has been met by the relay, as its metrics tell."""
    if mode == "blackhole":
        # First every lane waits for an answer that never comes; then the relay's own request
        # timeout (30 s) ends them (transport errors) and the lanes send again after backoff.
        if total(m, "kinesyslog_firehose_stream_requests_in_flight") == LANES:
            seen.add("all lanes held")
        return ("all lanes held" in seen
                and total(m, "kinesyslog_firehose_request_errors_total", '"transport"') >= LANES
                and total(m, "kinesyslog_upload_retries_total") >= 1)
    if mode == "slow":
        slow = [r for r in firehose.requests(op="PutRecordBatch")[puts_before:]
                if r.status == 200]
        return len(slow) >= 2 * LANES
    # Failing answers: the lanes back off and retry.
    return (total(m, "kinesyslog_upload_retries_total")
            >= total(m0, "kinesyslog_upload_retries_total") + 4)


@pytest.mark.parametrize("mode", ["blackhole", "slow", "reset", "malformed", "all-failed"])
def test_firehose_fault_loses_nothing_memory_bounded_backoff_visible(relays, firehose, mode):
    prometheus = R.free_port()
    r = start(relays, firehose, prometheus)
    senders = C.Senders("f", tcp_port=r.tcp[0], tcp_connections=1, per_second=RATE)
    try:
        firehose.wait_count(100, timeout=20)
        m0 = scrape(prometheus)
        rss0 = C.rss_kib(r.proc.pid)
        puts_before = len(firehose.requests(op="PutRecordBatch"))
        sent_before = senders.counts()[0]
        started = time.monotonic()
        start_fault(firehose, mode)

        rss_max = rss0
        seen = set()
        while True:
            m = scrape(prometheus)
            rss_max = max(rss_max, C.rss_kib(r.proc.pid))
            if (fault_visible(mode, firehose, m0, m, puts_before, seen)
                    and senders.counts()[0] - sent_before >= FAULT_MESSAGES):
                break
            assert time.monotonic() - started < 60, (
                f"the fault never showed: {mode}; stderr:\n{r.stderr[-3000:]}")
            assert r.running(), r.stderr[-3000:]
            time.sleep(0.1)
        lasted = time.monotonic() - started
        puts_during = len(firehose.requests(op="PutRecordBatch")) - puts_before
        m_fault = m
        end_fault(firehose, mode)
        sent, _ = senders.finish()
    finally:
        senders.stop_event.set()
        senders.join()
        end_fault(firehose, mode)

    # Nothing lost; duplicates only where the stand-in stored a record and its answer was lost.
    events = firehose.wait_events(lambda evs: set(C.ids(evs)) >= sent, timeout=60,
                                  what="every message after the fault")
    got = collections.Counter(C.ids(events))
    assert set(got) == sent, f"delivered but never sent: {sorted(set(got) - sent)[:5]}"
    stored = firehose.records()
    copies = collections.defaultdict(list)
    for rec in stored:
        copies[rec.data].append(rec)
    for recs in copies.values():
        assert sum(1 for x in recs if not x.lost) == 1, "a record stored twice with an answer"
    lost_copies = collections.Counter(x.data for x in stored if x.lost)
    for e in events:
        rec = stored[e["record"]].data
        ident = C.ID_RE.search(e["message"]).group(1)
        assert got[ident] == 1 + lost_copies[rec], (ident, got[ident], lost_copies[rec])
    dupes = sum(got.values()) - len(got)
    if mode in ("reset", "malformed"):
        assert lost_copies, "the broken answers lost nothing"
    else:
        assert dupes == 0 and not lost_copies, (mode, dupes)

    # Bounded memory while the fault lasted and messages kept coming (a sanitizer build's
    # shadow memory and quarantine multiply RSS: there only the rest is checked).
    if getattr(R, "SANITIZER", None) is None:
        assert rss_max - rss0 <= RSS_GROWTH_KIB, (
            f"RSS grew by {rss_max - rss0} KiB during the {mode} fault")
    # Bounded request rate: backoff, not a tight loop.
    if mode == "blackhole":
        # One request per lane until the timeout, then the retries after it.
        assert puts_during <= LANES + max_requests(lasted - 30), puts_during
    elif mode == "slow":
        assert puts_during <= LANES * (lasted / 1.0 + 1), puts_during
    else:
        assert puts_during <= max_requests(lasted), (
            f"{puts_during} requests in {lasted:.1f} s of {mode}")

    # What the operator sees.
    m_end = scrape(prometheus)
    retries = total(m_end, "kinesyslog_upload_retries_total") - total(
        m0, "kinesyslog_upload_retries_total")
    failed = total(m_end, "kinesyslog_upload_failed_requests_total") - total(
        m0, "kinesyslog_upload_failed_requests_total")
    request_errors = {k: v - m0.get("kinesyslog_firehose_request_errors_total", {}).get(k, 0)
                      for k, v in m_end.get("kinesyslog_firehose_request_errors_total",
                                            {}).items()}
    record_errors = {k: v - m0.get("kinesyslog_firehose_record_errors_total", {}).get(k, 0)
                     for k, v in m_end.get("kinesyslog_firehose_record_errors_total", {}).items()}
    duration = (total(m_fault, "kinesyslog_upload_duration_seconds_sum")
                - total(m0, "kinesyslog_upload_duration_seconds_sum"))
    print(f"{mode}: {lasted:.1f} s, {puts_during} requests during the fault, RSS "
          f"{rss0} -> max {rss_max} KiB, retries +{retries:.0f}, failed requests +{failed:.0f}, "
          f"request errors {request_errors}, record errors {record_errors}, "
          f"{len(sent)} messages, {dupes} duplicates, upload seconds +{duration:.1f}")
    if mode == "slow":
        assert failed == 0 and retries == 0, (failed, retries)
        assert duration >= 2 * LANES * 0.9, "the slow answers do not show in the latency"
    else:
        assert retries >= 1 and failed >= 1, (retries, failed)
    if mode in ("reset", "blackhole"):
        assert sum(v for k, v in request_errors.items() if "transport" in k) >= 1, request_errors
    if mode == "malformed":
        assert sum(request_errors.values()) >= 1, request_errors
    if mode == "all-failed":
        assert sum(v for k, v in record_errors.items() if "InternalFailure" in k) >= 1, (
            record_errors)
    assert r.stop() == 0, r.stderr[-3000:]
