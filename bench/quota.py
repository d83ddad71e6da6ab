"""The quota scenario of bench/harness.py (`--quota`; bench/README.md "Past one stream's quota").

The relay delivers to the Firehose stand-in (tests/integration/firehose_standin.py), whose
streams each have a quota (token buckets; by default 1 MiB/s, a stream's default outside the
largest regions, and 1,000 records/s and 1,000 requests/s) and answer over a WAN round
trip (`--quota-latency-ms`, 50 ms). Our load generator offers 3x ONE stream's quota in
compressed record bytes, evenly paced, for `--quota-seconds` (60), then stops; the relay then
works off its backlog. The run ends when the spool is empty (or nothing was delivered for
`--settle` seconds). It is done with 1 stream and with N (`--quota-streams`, 3) streams of the
same quota, with the same offered load.

Figures, with PASS/MISS against the targets:
- delivered rate while the backlog lasts (record bytes the stand-in accepted from the first to
  the last delivery, per second) >= 90 % of the streams' quota (N streams: of N quotas, unless
  the offered load itself was less; then of the offered load);
- throttled requests (refused whole, or with records refused by the quota) <= 10 % of all;
- zero loss, zero duplicates (every sequence number of the run, counted in the records);
- the spool drained afterwards (no record file left);
- N streams deliver >= 0.9 x N times the one-stream rate (2.7x for 3).
Writes quota.txt, quota.dat and quota.png (the send rate over time, per second, gnuplot) into
the results directory.
"""

import datetime
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
# Compressed record bytes per 200-byte load generator message at level 1 (bench/README.md,
# "B/msg"): turns the offered bytes/s into a message rate. The run reports what it really was.
BYTES_PER_MESSAGE = 71.0
OFFERED_QUOTAS = 3.0
TARGET_DELIVERED = 0.90
TARGET_THROTTLED = 0.10
TARGET_SCALING = 0.90  # of N streams x the one-stream rate


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def spool_files(spool):
    return sum(1 for p in Path(spool).glob("kinesyslog-*.gz"))


def wait_ready(path, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"relay exited {proc.returncode}: {Path(path).read_text()[-2000:]}")
        if "] ready: " in Path(path).read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError("relay not ready in time")


class Run:
    def __init__(self, streams):
        self.streams = streams
        self.error = None
        self.sent = 0
        self.delivered = 0
        self.missing = 0
        self.duplicated = 0
        self.requests = 0
        self.throttled = 0
        self.refused_records = 0
        self.spool_left = -1
        self.relay_rc = None
        self.offered_rate = 0.0  # record bytes/s the load made (all records / load seconds)
        self.delivered_rate = 0.0  # record bytes/s accepted, first to last delivery
        self.backlog_seconds = 0.0
        self.load_seconds = 0.0
        self.max_in_flight = 0
        self.per_stream = {}  # name -> (records, bytes)
        self.series = []  # (second, sent B/s, accepted B/s, throttled requests)
        self.rates = {}  # stream -> [(second, allowed send rate B/s)] from the relay's log


def run_one(args, n_streams, relay_bin, loadgen_bin, tally_class):
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    from firehose_standin import FirehoseStandIn  # noqa: E402

    quota = args.quota_bytes
    run = Run(n_streams)
    workdir = Path(tempfile.mkdtemp(prefix=f"kinesyslog-quota-{n_streams}-", dir=args.workdir))
    spool = workdir / "spool"
    spool.mkdir()
    standin = FirehoseStandIn().start()
    relay = loadgen = None
    names = [f"quota-{i + 1}" for i in range(n_streams)]
    try:
        for name in names:
            standin.add_stream(name)
            standin.set_quota(name, bytes_per_second=quota, records_per_second=1000,
                              requests_per_second=1000)
        standin.set_latency(args.quota_latency_ms / 1000)
        from harness import free_port  # noqa: E402
        port = free_port()
        cmd = [str(relay_bin), "listen", "--address", "127.0.0.1", "--spool-dir", str(spool),
               "--tcp-port", str(port), "--udp-port", "0", "--compression-level", "1",
               "--flush-interval", str(args.flush_interval), "--region", standin.region,
               "--endpoint-url", standin.url, "--sts-endpoint-url", standin.url,
               "--debug"]  # the uploader's send rate lines (quiet otherwise)
        for name in names:
            cmd += ["--stream", name]
        env = dict(os.environ)
        env.update(standin.relay_env(workdir / "home"))
        stderr_path = workdir / "relay.stderr"
        with open(stderr_path, "wb") as err:
            relay = subprocess.Popen(cmd, stderr=err, stdout=subprocess.DEVNULL, env=env)
        wait_ready(stderr_path, relay)

        rate = int(OFFERED_QUOTAS * quota / BYTES_PER_MESSAGE)
        count = int(rate * args.quota_seconds)
        run_id = "q" + secrets.token_hex(4)
        loadgen_cmd = [str(loadgen_bin), "--target", "127.0.0.1", "--port", str(port),
                       "--transport", "tcp", "--framing", "octet", "--size", "200",
                       "--count", str(count), "--rate", str(rate), "--connections", "4",
                       "--threads", "1", "--run-id", run_id, "--start-seq", "0"]
        started = time.time()
        loadgen = subprocess.Popen(loadgen_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        log(f"  {n_streams} stream(s): offering {rate:,} msgs/s (~{OFFERED_QUOTAS:g}x "
            f"{quota / MIB:g} MiB/s) for {args.quota_seconds:g} s, {count:,} messages")
        out, errs = loadgen.communicate(timeout=args.quota_seconds * 3 + 60)
        load_end = time.time()
        if loadgen.returncode != 0:
            raise RuntimeError(f"loadgen exited {loadgen.returncode}: {errs.decode()[-500:]}")
        run.sent = count
        run.load_seconds = load_end - started

        # Idle until drained: the spool empty (after the relay flushed its last buffers).
        last_count, last_change = -1, time.monotonic()
        time.sleep(1.0)
        while True:
            n = len(standin.records())
            if n != last_count:
                last_count, last_change = n, time.monotonic()
            if spool_files(spool) == 0 and time.time() - load_end > 2:
                break
            if time.monotonic() - last_change > args.settle:
                log(f"  nothing delivered for {args.settle:g} s; {spool_files(spool)} records "
                    "still spooled")
                break
            time.sleep(1.0)
        run.spool_left = spool_files(spool)
        relay.send_signal(signal.SIGTERM)
        run.relay_rc = relay.wait(120)

        records = standin.records()
        tally = tally_class(rb"run=" + run_id.encode() + rb" seq=(\d{10})", 0, count)
        from harness import gzip_members  # noqa: E402
        for r in records:
            for member in gzip_members(r.data):
                tally.feed_record(member)
        run.delivered = tally.distinct
        run.missing = count - tally.distinct
        run.duplicated = tally.duplicated
        run.requests, run.throttled, run.refused_records = standin.throttle_counts()
        run.max_in_flight = standin.max_in_flight
        for name in names:
            mine = [r for r in records if r.stream == name]
            run.per_stream[name] = (len(mine), sum(len(r.data) for r in mine))
        total = sum(len(r.data) for r in records)
        run.offered_rate = total / run.load_seconds
        if records:
            first = min(r.time for r in records)
            last = max(r.time for r in records)
            run.backlog_seconds = last - first
            run.delivered_rate = total / max(last - first, 1e-6)
        # Per second since the load started: bytes sent to Firehose, bytes it accepted, and
        # throttled requests.
        reqs = standin.requests(op="PutRecordBatch")
        horizon = int(max([r.time for r in reqs] + [started]) - started) + 1
        sent = [0] * horizon
        accepted = [0] * horizon
        throttled = [0] * horizon
        for r in reqs:
            i = int(r.time - started)
            if 0 <= i < horizon:
                sent[i] += r.bytes
                throttled[i] += 1 if r.throttled else 0
        for r in records:
            i = int(r.time - started)
            if 0 <= i < horizon:
                accepted[i] += len(r.data)
        run.series = list(zip(range(horizon), sent, accepted, throttled))
        run.rates = send_rates(stderr_path, names, started)
    except Exception as e:  # report, do not hide the other run
        run.error = f"{type(e).__name__}: {e}"
    finally:
        for p in (loadgen, relay):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        standin.stop()
        if not args.keep:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)
    return run


RATE_LINE = re.compile(r"^(\S+)Z \[debug\] uploader: send rate of stream (\S+) now (\d+) "
                       r"bytes/s")


def send_rates(stderr_path, names, started):
    """The relay's allowed send rate per stream over time, from its --debug lines."""
    rates = {name: [] for name in names}
    for line in Path(stderr_path).read_text(errors="replace").splitlines():
        m = RATE_LINE.match(line)
        if not m or m.group(2) not in rates:
            continue
        when = datetime.datetime.fromisoformat(m.group(1)).replace(
            tzinfo=datetime.timezone.utc).timestamp()
        rates[m.group(2)].append((when - started, int(m.group(3))))
    return rates


def verdict(ok):
    return "PASS" if ok else "MISS"


def target_rows(runs, quota):
    rows = []
    one = runs[0]
    for run in runs:
        label = f"{run.streams} stream{'s' if run.streams > 1 else ''}"
        if run.error:
            rows.append((label, "ran", run.error, "MISS"))
            continue
        capacity = quota * run.streams
        # With several streams the offered load may be below their quota: then no backlog, and
        # the delivered rate is measured against what was offered.
        goal = min(capacity, run.offered_rate)
        share = run.delivered_rate / goal if goal else 0
        rows.append((label, f"delivered >= {TARGET_DELIVERED:.0%} of "
                     f"{'the quota' if goal == capacity else 'the offered load'} "
                     f"({goal / MIB:.2f} MiB/s)",
                     f"{run.delivered_rate / MIB:.3f} MiB/s ({share:.1%})",
                     verdict(share >= TARGET_DELIVERED)))
        frac = run.throttled / run.requests if run.requests else 1
        rows.append((label, f"throttled requests <= {TARGET_THROTTLED:.0%}",
                     f"{run.throttled:,} of {run.requests:,} ({frac:.1%})",
                     verdict(frac <= TARGET_THROTTLED)))
        rows.append((label, "zero loss, zero duplicates",
                     f"{run.missing:,} missing, {run.duplicated:,} dup",
                     verdict(run.missing == 0 and run.duplicated == 0)))
        rows.append((label, "spool drained", f"{run.spool_left} files left",
                     verdict(run.spool_left == 0)))
        if run is not one and not one.error and one.delivered_rate:
            ratio = run.delivered_rate / one.delivered_rate
            want = TARGET_SCALING * run.streams
            rows.append((label, f">= {want:.1f}x the one-stream rate", f"{ratio:.2f}x",
                         verdict(ratio >= want)))
    return rows


def table(runs):
    lines = [f"{'streams':>7} {'sent':>10} {'delivered':>10} {'missing':>8} {'dup':>5} "
             f"{'load s':>7} {'offered MiB/s':>13} {'backlog s':>9} {'delivered MiB/s':>15} "
             f"{'requests':>9} {'throttled':>9} {'records refused':>15} {'in flight':>9} "
             f"{'spool left':>10}"]
    for r in runs:
        lines.append(f"{r.streams:>7} {r.sent:>10,} {r.delivered:>10,} {r.missing:>8,} "
                     f"{r.duplicated:>5,} {r.load_seconds:>7.1f} {r.offered_rate / MIB:>13.3f} "
                     f"{r.backlog_seconds:>9.1f} {r.delivered_rate / MIB:>15.3f} "
                     f"{r.requests:>9,} {r.throttled:>9,} {r.refused_records:>15,} "
                     f"{r.max_in_flight:>9} {r.spool_left:>10}")
        if r.per_stream:
            lines.append("        per stream (records, MiB): " + ", ".join(
                f"{k} {n:,} / {b / MIB:.1f}" for k, (n, b) in r.per_stream.items()))
    return "\n".join(lines)


def write_plot(out, runs, quota, title):
    data = out / "quota.dat"
    with open(data, "w") as f:
        for r in runs:
            f.write(f"# {r.streams} streams: second sent_MiB_per_s accepted_MiB_per_s "
                    "throttled_requests\n")
            for sec, sent, acc, thr in r.series:
                f.write(f"{sec} {sent / MIB:.4f} {acc / MIB:.4f} {thr}\n")
            f.write("\n\n")
    rates = out / "quota-rate.dat"
    with open(rates, "w") as f:
        for r in runs:
            for name in sorted(r.rates) or ["none"]:
                f.write(f"# {r.streams} streams, {name}: second allowed_send_rate_MiB_per_s\n")
                for sec, rate in r.rates.get(name, []):
                    f.write(f"{sec:.3f} {rate / MIB:.4f}\n")
                if not r.rates.get(name):
                    f.write("0 NaN\n")
                f.write("\n\n")
    png = out / "quota.png"
    labels = " ".join(str(r.streams) for r in runs)
    cmd = ["gnuplot", "-e",
           f"datafile='{data}'; ratefile='{rates}'; outfile='{png}'; runs='{labels}'; "
           f"quota={quota / MIB}; "
           f"title='{title}'", str(REPO / "bench" / "quota.gp")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        log(f"gnuplot failed: {p.stderr.strip()}")
        return None
    return png


def main(args, relay_bin, loadgen_bin, tally_class, machine_line, out):
    runs = []
    for n in (1, args.quota_streams):
        log(f"quota scenario, {n} stream(s) of {args.quota_bytes / MIB:g} MiB/s, "
            f"{args.quota_latency_ms:g} ms round trip")
        run = run_one(args, n, relay_bin, loadgen_bin, tally_class)
        runs.append(run)
        log(f"  delivered {run.delivered:,} of {run.sent:,}, {run.delivered_rate / MIB:.3f} "
            f"MiB/s, {run.throttled:,} of {run.requests:,} requests throttled"
            + (f"  ERROR {run.error}" if run.error else ""))
    header = (f"machine: {machine_line}\n"
              f"quota per stream: {args.quota_bytes / MIB:g} MiB/s, 1,000 records/s, 1,000 "
              f"requests/s (stand-in token buckets, 1 s burst); round trip "
              f"{args.quota_latency_ms:g} ms; offered {OFFERED_QUOTAS:g}x one stream's quota "
              f"for {args.quota_seconds:g} s (200-byte messages, TCP, level 1, flush interval "
              f"{args.flush_interval} s), then idle until drained\n")
    rows = target_rows(runs, args.quota_bytes)
    targets = "\n".join(f"{a:10} {b:58} {c:32} {d}" for a, b, c, d in rows)
    text = header + "\n" + table(runs) + "\n\n" + targets + "\n"
    print()
    print(text)
    (out / "quota.txt").write_text(text)
    png = write_plot(out, runs, args.quota_bytes,
                     f"send rate to Firehose under a {args.quota_bytes / MIB:g} MiB/s quota per "
                     f"stream, offered {OFFERED_QUOTAS:g}x one quota")
    log(f"wrote {out / 'quota.txt'}" + (f" and {png}" if png else ""))
    if args.update_readme:
        block = ("Measured " + time.strftime("%Y-%m-%d") + " with `/usr/bin/python3 "
                 "bench/harness.py " + " ".join(sys.argv[1:]) + "`\n\n```\n" + text + "```\n"
                 + ("\n![send rate over time](results/quota.png)\n" if png else ""))
        readme = REPO / "bench" / "README.md"
        body = readme.read_text()
        begin, end = "<!-- quota:begin -->", "<!-- quota:end -->"
        a, b = body.find(begin), body.find(end)
        if a >= 0 and b > a:
            readme.write_text(body[:a + len(begin)] + "\n" + block + body[b:])
        else:
            log(f"{readme}: no {begin} ... {end} block; not updated")
    if any(r.error for r in runs):
        return 2
    return 1 if any(r.missing or r.duplicated for r in runs) else 0
