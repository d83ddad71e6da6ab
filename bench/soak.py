#!/usr/bin/python3
"""Soak test: the relay under a long mixed load, watched for growth, loss and duplicates
(bench/README.md, "Soak").

Two relays, as operators run them (`--gelf` switches every listener of a process to GELF): a
syslog relay (TCP, TLS, UDP) and a GELF relay (GELF over UDP, chunked, and over TCP), both with
the journal on (the default) and delivering to the Firehose stand-in of the integration tests
(tests/integration/firehose_standin.py), which fails 5 % of records (`--record-failures`) and
loses one response a minute (`--lose-every`: records stored, answer never sent, so the relay
resends them and duplicates are expected and marked).

Load: lanes of `kinesyslog_loadgen` (bench/loadgen.cc), one per sender kind. A lane runs one
load generator after the other; each one opens 1 to 3 connections (or UDP sockets), sends for a
lifetime drawn log-uniformly between `--min-life` and `--max-life` seconds at the lane's share
of the rate, and closes them: connections come and go all the time. Every message carries
`run=LANE-ID seq=N`, N counting up per lane, so loss and duplicates are counted exactly.

Rate: half (`--fraction`) the measured maximum of this mix. Unless `--rate` is given, a probe
first offers `--probe-rate` msgs/s of the same mix for `--probe-seconds` to fresh relays and
measures what reaches the stand-in per second once it is running (the end-to-end maximum on this
machine, the stand-in's Python included); the relays are then restarted for the soak.

Every `--sample-every` seconds (10) for each relay: RSS, open descriptors, client connections,
spool depth (record files and bytes, journal bytes), CPU (user+sys) and its counters
(SIGUSR1); and messages sent and delivered. Written to soak.csv, soak.json, soak.txt and
soak.png (gnuplot, bench/soak.gp) in `--out` (bench/results).

Fails (exit 1, one line per failure) on:
- growth: a relay's mean RSS, or mean descriptors not held by client connections, more than
  `--growth-limit` (10 %) higher in the last window than in the early one; a window is a sixth
  of the run, at most 10 minutes, and the early window is the second one but starts no sooner
  than 60 s in (the warm-up): the second and the last 10 minutes of an hour, 60-80 s and
  100-120 s of two minutes;
- loss: any TCP, TLS or GELF-TCP message not delivered; for syslog over UDP, delivered must be
  exactly sent minus the datagrams the relay counted as dropped (its own `udp_dropped` and the
  kernel's `udp_kernel_dropped`); for chunked GELF over UDP, every missing message needs a
  dropped datagram (missing <= drops) and every chunk set the relay expired or evicted must be
  a missing message;
- duplicates: a message stored twice by answers the relay saw (a copy in a record whose
  response was lost is explained; the 5 % failed records are resent, never duplicated);
- anything broken: a load generator or relay failing, stray sequence numbers, records left in
  the spool after the drain.
Exit 2 when the run could not be made (binaries missing, relay not starting).
"""

import argparse
import csv
import json
import math
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

import harness as H  # noqa: E402
from firehose_standin import FirehoseStandIn  # noqa: E402
import relay as R  # noqa: E402

MIB = 1024 * 1024
STREAM = "soak"

# Sender kinds: name, relay, load generator arguments, share of the rate.
LANES = [
    ("tcp-octet", "syslog", ["--transport", "tcp", "--framing", "octet"], 0.20),
    ("tcp-lf", "syslog", ["--transport", "tcp", "--framing", "lf"], 0.10),
    ("tls", "syslog", ["--transport", "tls", "--framing", "octet"], 0.15),
    ("udp", "syslog", ["--transport", "udp"], 0.20),
    # 200-byte GELF messages in 100-byte chunks: 3 datagrams each.
    ("gelf-udp-chunked", "gelf", ["--transport", "gelf-udp", "--gelf-encoding", "chunked",
                                  "--chunk-size", "100"], 0.15),
    ("gelf-tcp", "gelf", ["--transport", "gelf-tcp"], 0.20),
]
STREAM_LANES = ("tcp-octet", "tcp-lf", "tls", "gelf-tcp")
WARM_UP_SECONDS = 60
JUDGED = ("rss_kib", "fds_other")  # growth of these fails the run; the others are reported
SEQ = re.compile(rb"run=([A-Za-z0-9_.:-]+) seq=(\d{10})")


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# What arrived


class Tally:
    """Per lane and sequence number, the copies stored by the stand-in: one byte each, low
    nibble copies in records whose answer the relay saw, high nibble copies in records whose
    answer was lost (both saturating at 15)."""

    def __init__(self):
        self.lanes = {}  # run id -> bytearray
        self.lock = threading.Lock()
        self.delivered = 0  # distinct
        self.copies = 0
        self.unexplained = 0  # copies beyond the first in records answered
        self.unexplained_examples = []
        self.stray = 0
        self.records = 0
        self.lost_records = 0

    def add_lane(self, run_id):
        with self.lock:
            self.lanes[run_id] = bytearray()

    def feed(self, stored):
        data = stored.data
        lost = stored.lost
        found = []
        while data:
            d = zlib.decompressobj(wbits=31)
            found.extend(SEQ.findall(d.decompress(data)))
            data = d.unused_data if d.eof else b""
        with self.lock:
            if not isinstance(stored, SpooledRecord):
                self.records += 1
                self.lost_records += 1 if lost else 0
            for run_id, seq in found:
                counts = self.lanes.get(run_id.decode())
                if counts is None:
                    self.stray += 1
                    continue
                i = int(seq)
                if i >= len(counts):
                    counts.extend(bytes(i + 1 - len(counts) + 65536))
                v = counts[i]
                self.copies += 1
                if v == 0:
                    self.delivered += 1
                if lost:
                    if v < 0xF0:
                        v += 0x10
                else:
                    if v & 0x0F:
                        self.unexplained += 1
                        if len(self.unexplained_examples) < 5:
                            self.unexplained_examples.append(f"{run_id.decode()} seq={i}")
                    if v & 0x0F < 0x0F:
                        v += 1
                counts[i] = v

    def lane_delivered(self, run_id, sent_upto):
        """Distinct sequence numbers of [0, sent_upto) delivered."""
        with self.lock:
            counts = self.lanes[run_id]
            have = counts[:sent_upto]
            return len(have) - have.count(0) if len(have) else 0


# ---------------------------------------------------------------------------------------------
# Load


class Lane(threading.Thread):
    """Load generators of one kind one after the other until `deadline` (monotonic)."""

    def __init__(self, name, port, args, rate, deadline, life, loadgen, run_id, tls_files,
                 rng):
        super().__init__(daemon=True, name=f"lane-{name}")
        self.kind, self.port, self.args, self.rate = name, port, args, rate
        self.deadline, self.life, self.loadgen = deadline, life, loadgen
        self.run_id, self.tls_files, self.rng = run_id, tls_files, rng
        self.next_seq = 0  # every seq below was given to a finished load generator
        self.sent = 0
        self.errors = 0
        self.generators = 0
        self.connections = 0
        self.slip = 0.0
        self.failures = []
        self.proc = None
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            left = self.deadline - time.monotonic()
            if left < 0.05:
                break
            lo, hi = self.life
            life = min(math.exp(self.rng.uniform(math.log(lo), math.log(hi))), left)
            count = max(1, int(round(self.rate * life)))
            conns = self.rng.randint(1, 3)
            cmd = [str(self.loadgen), "--target", "127.0.0.1", "--port", str(self.port),
                   "--size", "200", "--count", str(count), "--rate", f"{self.rate:.3f}",
                   "--connections", str(conns), "--threads", "1", "--run-id", self.run_id,
                   "--start-seq", str(self.next_seq)] + self.args
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = self.proc.communicate()
            rc = self.proc.returncode
            try:
                res = json.loads(out.decode().strip().splitlines()[-1])
            except (ValueError, IndexError):
                res = None
            if rc != 0 or res is None:
                self.failures.append(f"{self.kind}: loadgen exited {rc}: "
                                     f"{err.decode(errors='replace').strip()[-300:]}")
                if len(self.failures) > 3:
                    break
            if res is not None:
                self.sent += res["sent"]
                self.errors += res["errors"]
                self.slip += res["pacing_slip_seconds"]
            # The seqs of a failed generator are never reused: unknown how many were sent.
            self.next_seq += count
            self.generators += 1
            self.connections += conns

    def stop(self):
        self.stopping.set()


# ---------------------------------------------------------------------------------------------
# Relays


def spool_depth(spool):
    files = nbytes = journal = 0
    try:
        entries = list(os.scandir(spool))
    except OSError:
        return 0, 0, 0
    for e in entries:
        try:
            size = e.stat().st_size
        except OSError:
            continue
        if e.name.startswith("kinesyslog-journal-"):
            journal += size
        elif e.name.startswith("kinesyslog-") and e.name.endswith(".gz"):
            files += 1
            nbytes += size
    return files, nbytes, journal


def rss_kib(pid):
    return R.proc_status_kib(pid, "VmRSS")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def udp_socket_drops(port):
    """The drops column of /proc/net/udp and udp6 for sockets bound to `port` (kernel receive
    buffer full, among others), summed."""
    total = 0
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 12 and int(f[1].rsplit(":", 1)[1], 16) == port:
                total += int(f[-1])
    return total


class Relays:
    """The syslog relay and the GELF relay, with their ports and spools."""

    def __init__(self, workdir, standin, relay_bin, cert, key, flush_interval, tag):
        self.ports = {"tcp": H.free_port(), "tls": H.free_port(), "gelf": H.free_port()}
        self.spools = {"syslog": workdir / f"spool-syslog-{tag}",
                       "gelf": workdir / f"spool-gelf-{tag}"}
        env = standin.relay_env(workdir / "home")
        common = ["--address", "127.0.0.1", "--compression-level", "1",
                  "--flush-interval", str(flush_interval)] + standin.relay_args(stream=STREAM)
        syslog = ["listen", "--spool-dir", str(self.spools["syslog"]),
                  "--tcp-port", str(self.ports["tcp"]), "--udp-port", str(self.ports["tcp"]),
                  "--tls-port", str(self.ports["tls"]), "--cert", str(cert), "--key", str(key)]
        gelf = ["listen", "--gelf", "--spool-dir", str(self.spools["gelf"]),
                "--tcp-port", str(self.ports["gelf"]), "--udp-port", str(self.ports["gelf"])]
        os.environ["KINESYSLOG_BIN"] = str(relay_bin)
        self.relays = {}
        for name, args in (("syslog", syslog), ("gelf", gelf)):
            self.spools[name].mkdir()
            self.relays[name] = R.Relay(args + common, workdir / f"logs-{tag}", env=env)
        for r in self.relays.values():
            r.wait_ready()

    def port_of(self, lane):
        return {"tcp-octet": self.ports["tcp"], "tcp-lf": self.ports["tcp"],
                "udp": self.ports["tcp"], "tls": self.ports["tls"],
                "gelf-udp-chunked": self.ports["gelf"], "gelf-tcp": self.ports["gelf"]}[lane]

    def stop(self):
        """SIGTERM both; returns {name: (exit code, final counters or {})}."""
        out = {}
        for name, r in self.relays.items():
            rc = r.stop(timeout=120)
            try:
                counters = R.final_counters(r.stderr)
            except AssertionError:
                counters = {}
            out[name] = (rc, counters)
        return out

    def kill(self):
        for r in self.relays.values():
            r.kill()


# ---------------------------------------------------------------------------------------------
# One load phase


class Phase:
    def __init__(self, args, standin, tally, relays, loadgen, tls_files, rate, seconds, life,
                 label, rng):
        self.args, self.standin, self.tally, self.relays = args, standin, tally, relays
        self.rate, self.seconds, self.label = rate, seconds, label
        tag = secrets.token_hex(3)
        self.start = time.monotonic()
        self.wall_start = time.time()
        deadline = self.start + seconds
        self.lanes = []
        for name, _relay, largs, share in LANES:
            run_id = f"{label}{tag}-{name}"
            tally.add_lane(run_id)
            self.lanes.append(Lane(name, relays.port_of(name), largs, rate * share, deadline,
                                   life, loadgen, run_id, tls_files, random.Random(rng.random())))
        for lane in self.lanes:
            lane.start()

    def lane(self, kind):
        return next(x for x in self.lanes if x.kind == kind)

    def sent(self):
        return sum(x.sent for x in self.lanes)

    def running(self):
        return any(x.is_alive() for x in self.lanes)

    def stop(self):
        for x in self.lanes:
            x.stop()

    def join(self):
        for x in self.lanes:
            x.join()


class SpooledRecord:
    """A record file left in a spool, fed to Tally.feed as a record not (yet) answered."""

    lost = True

    def __init__(self, data):
        self.data = data


class Drainer(threading.Thread):
    """Takes the stand-in's records as they come and counts their sequence numbers."""

    def __init__(self, standin, tally):
        super().__init__(daemon=True, name="drainer")
        self.standin, self.tally = standin, tally
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(0.5):
            self.drain()

    def drain(self):
        with self.lock:
            for rec in self.standin.take_records():
                self.tally.feed(rec)

    def swap(self, tally):
        """Counts into a new tally from now on, after the records stored so far."""
        with self.lock:
            for rec in self.standin.take_records():
                self.tally.feed(rec)
            self.tally = tally

    def stop(self):
        self.stopping.set()
        self.join()
        self.drain()


def wait_drained(relays, expected, tally, settle, label, timeout=math.inf):
    """Until every expected message arrived and both spools are empty, or nothing new arrived
    for `settle` seconds, or `timeout` seconds passed. Returns the seconds waited."""
    t0 = time.monotonic()
    last, last_change = -1, time.monotonic()
    while True:
        if time.monotonic() - t0 > timeout:
            log(f"{label}: not drained after {timeout:g} s; {tally.delivered:,} of "
                f"{expected():,} delivered")
            break
        have = tally.delivered
        spooled = sum(spool_depth(s)[0] for s in relays.spools.values())
        if have >= expected() and spooled == 0:
            break
        if have != last:
            last, last_change = have, time.monotonic()
        if time.monotonic() - last_change > settle:
            log(f"{label}: nothing new for {settle:g} s; {have:,} of {expected():,} delivered, "
                f"{spooled} records spooled")
            break
        time.sleep(0.5)
    return time.monotonic() - t0


# ---------------------------------------------------------------------------------------------
# Probe: the maximum rate of the mix


def probe(args, standin, tally, drainer, workdir, relay_bin, loadgen, tls, rng):
    log(f"probe: offering {args.probe_rate:,} msgs/s of the mix for {args.probe_seconds:g} s")
    relays = Relays(workdir, standin, relay_bin, tls[0], tls[1], args.flush_interval, "probe")
    try:
        life = (args.min_life, max(args.min_life, min(args.max_life, args.probe_seconds / 3)))
        phase = Phase(args, standin, tally, relays, loadgen, tls, args.probe_rate,
                      args.probe_seconds, life, "p", rng)
        warm = min(5.0, args.probe_seconds / 4)
        time.sleep(warm)
        d0, t0 = tally.delivered, time.monotonic()
        while time.monotonic() < phase.start + args.probe_seconds:
            time.sleep(0.2)
        d1, t1 = tally.delivered, time.monotonic()
        phase.join()
        measured = (d1 - d0) / (t1 - t0)
        log(f"probe: {d1 - d0:,} messages delivered in {t1 - t0:.1f} s: {measured:,.0f} msgs/s "
            f"(offered {args.probe_rate:,}, sent {phase.sent():,})")
        wait_drained(relays, lambda: 0, tally, args.settle, "probe")
    finally:
        relays.stop()
    return measured


# ---------------------------------------------------------------------------------------------
# Samples and verdicts


FIELDS = ["t", "relay", "rss_kib", "fds", "connections", "fds_other", "spool_files",
          "spool_bytes", "journal_bytes", "cpu_seconds", "cpu_percent", "received",
          "udp_dropped", "udp_kernel_dropped", "sent", "delivered", "copies",
          "records_stored", "lost_records"]


class Sampler:
    """Samples the relays; every row is appended to `csv_path` at once, so a run cut short
    leaves its samples."""

    def __init__(self, relays, phase, tally, csv_path):
        self.relays, self.phase, self.tally = relays, phase, tally
        self.rows = []
        self.last_cpu = {}
        self.csv = open(csv_path, "w", newline="")
        self.writer = csv.DictWriter(self.csv, fieldnames=FIELDS)
        self.writer.writeheader()

    def sample(self):
        t = time.monotonic() - self.phase.start
        for name, r in self.relays.relays.items():
            pid = r.proc.pid
            try:
                c = r.counters_now()
                cpu = H.process_cpu_seconds(pid)
                row = {"t": round(t, 2), "relay": name, "rss_kib": rss_kib(pid),
                       "fds": open_fds(pid), "connections": c.get("tcp_connections_active", 0)}
            except (OSError, AssertionError) as e:
                log(f"sample of the {name} relay failed: {e}")
                continue
            row["fds_other"] = row["fds"] - row["connections"]
            files, nbytes, journal = spool_depth(self.relays.spools[name])
            prev = self.last_cpu.get(name)
            row.update(spool_files=files, spool_bytes=nbytes, journal_bytes=journal,
                       cpu_seconds=round(cpu, 2),
                       cpu_percent=round(100 * (cpu - prev[1]) / (t - prev[0]), 1)
                       if prev and t > prev[0] else 0.0,
                       received=c.get("messages_received", 0),
                       udp_dropped=c.get("udp_dropped", 0),
                       udp_kernel_dropped=c.get("udp_kernel_dropped", 0),
                       sent=self.phase.sent(), delivered=self.tally.delivered,
                       copies=self.tally.copies, records_stored=self.tally.records,
                       lost_records=self.tally.lost_records)
            self.last_cpu[name] = (t, cpu)
            self.rows.append(row)
            self.writer.writerow(row)
        self.csv.flush()


def window_means(rows, relay, key, lo, hi):
    vals = [r[key] for r in rows if r["relay"] == relay and lo <= r["t"] < hi]
    return (sum(vals) / len(vals), len(vals)) if vals else (None, 0)


def growth_windows(seconds):
    """(length, start of the early window): a sixth of the run, at most 10 minutes; the early
    window is the second one, but starts no sooner than a minute in (the relay's buffers and
    allocator arenas reach their working size in about 40 s at these rates), or two windows
    before the end in a shorter run."""
    w = min(600.0, seconds / 6)
    return w, max(w, min(WARM_UP_SECONDS, seconds - 2 * w))


def growth_checks(rows, seconds, limit):
    """[{relay, what, first_window, second_window (the early one), last_window, rise, ok}]
    and (window length, start of the early window)."""
    w, early = growth_windows(seconds)
    out = []
    for relay in ("syslog", "gelf"):
        for key, what in (("rss_kib", "RSS KiB"), ("fds_other", "descriptors (not clients)"),
                          ("fds", "descriptors (all)"), ("spool_bytes", "spool bytes")):
            first, _ = window_means(rows, relay, key, 0, w)
            a, _ = window_means(rows, relay, key, early, early + w)
            b, _ = window_means(rows, relay, key, seconds - w, seconds + 1)
            rise = (b - a) / a if a and b is not None else None
            if key == "spool_bytes" and a == 0 and b is not None:
                rise = 0.0 if b == 0 else math.inf
            # All descriptors move with the clients connected; the spool with delivery.
            judged = key in JUDGED
            ok = rise is not None and (rise <= limit or not judged)
            out.append({"relay": relay, "what": what, "first_window": first,
                        "second_window": a, "last_window": b, "rise": rise, "ok": ok})
    return out, (w, early)


def write_plot(out, rows, title):
    dat = out / "soak.dat"
    with open(dat, "w") as f:
        for relay in ("syslog", "gelf"):
            f.write(f"# {relay}: minutes rss_MiB fds spool_MiB journal_MiB cpu_percent "
                    "received_kmsgs_per_s (this relay) delivered_kmsgs_per_s (both)\n")
            prev = None
            for r in (x for x in rows if x["relay"] == relay):
                if prev is not None and r["t"] > prev["t"]:
                    dt = r["t"] - prev["t"]
                    sent = (r["received"] - prev["received"]) / dt / 1000
                    dlv = (r["delivered"] - prev["delivered"]) / dt / 1000
                else:
                    sent = dlv = float("nan")
                f.write(f"{r['t'] / 60:.3f} {r['rss_kib'] / 1024:.2f} {r['fds']} "
                        f"{r['spool_bytes'] / MIB:.3f} {r['journal_bytes'] / MIB:.3f} "
                        f"{r['cpu_percent']} {sent:.3f} {dlv:.3f}\n")
                prev = r
            f.write("\n\n")
    png = out / "soak.png"
    cmd = ["gnuplot", "-e", f"datafile='{dat}'; outfile='{png}'; title='{title}'",
           str(REPO / "bench" / "soak.gp")]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except OSError as e:
        log(f"gnuplot: {e}")
        return None
    if p.returncode != 0:
        log(f"gnuplot failed: {p.stderr.strip()}")
        return None
    return png


# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60, help="length of the soak (60)")
    p.add_argument("--rate", type=float,
                   help="total msgs/s of the soak; without it, --fraction of the probe's maximum")
    p.add_argument("--fraction", type=float, default=0.5,
                   help="share of the measured maximum to soak at (0.5)")
    p.add_argument("--probe-rate", type=int, default=400_000,
                   help="msgs/s the probe offers; more than the relays carry (400000)")
    p.add_argument("--probe-seconds", type=float, default=40, help="length of the probe (40)")
    p.add_argument("--sample-every", type=float, default=10, help="seconds between samples (10)")
    p.add_argument("--growth-limit", type=float, default=0.10,
                   help="largest rise allowed from the second to the last window (0.10)")
    p.add_argument("--record-failures", type=float, default=0.05,
                   help="share of records the stand-in fails (0.05)")
    p.add_argument("--lose-every", type=float, default=60,
                   help="seconds between lost responses (60; 0: none)")
    p.add_argument("--min-life", type=float, default=0.05,
                   help="shortest load generator (connection) lifetime in s (0.05)")
    p.add_argument("--max-life", type=float, default=120,
                   help="longest lifetime in s, at most a tenth of the run (120)")
    p.add_argument("--flush-interval", default="1",
                   help="relay --flush-interval (1: the drain at the end stays short)")
    p.add_argument("--settle", type=float, default=60,
                   help="give up draining after this many seconds without progress (60)")
    p.add_argument("--drain-timeout", type=float, default=600,
                   help="give up draining after this many seconds in all (600); the records "
                        "left are counted, and fail the run")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "results",
                   help="where soak.csv, soak.json, soak.txt, soak.png go (bench/results)")
    p.add_argument("--workdir", default=None, help="parent of the temporary directory ($TMPDIR)")
    p.add_argument("--keep", action="store_true", help="keep the spools and relay logs")
    p.add_argument("--seed", type=int, default=None, help="random seed of the lifetimes")
    p.add_argument("--build-dir", type=Path, default=REPO / "build" / "release")
    p.add_argument("--update-readme", action="store_true",
                   help="replace the results block of bench/README.md")
    p.add_argument("--from-results", action="store_true",
                   help="no run: render the report, plot and README block again from "
                        "soak.json and soak.csv in --out")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.from_results:
        return from_results(args.out, args.update_readme)
    relay_bin = Path(os.environ.get("KINESYSLOG_BIN") or args.build_dir / "kinesyslog")
    loadgen = args.build_dir / "kinesyslog_loadgen"
    for b in (relay_bin, loadgen):
        if not os.access(b, os.X_OK):
            log(f"soak: {b} not found; build it first (scripts/build.sh)")
            return 2
    seconds = args.minutes * 60
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="kinesyslog-soak-", dir=args.workdir))
    machine = H.machine_description()
    machine_line = (f"{machine['cpus']} CPUs ({machine['model']}), {machine['memory']} RAM, "
                    f"Linux {machine['kernel']}, Debian {machine['debian']}")
    load_before = os.getloadavg()
    failures = []
    standin = FirehoseStandIn(seed=args.seed).start()
    standin.add_stream(STREAM)
    standin.set_record_failure_rate(args.record_failures)
    tally = Tally()
    drainer = Drainer(standin, tally)
    drainer.start()
    relays = phase = None
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(workdir / "key.pem"), "-out", str(workdir / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    tls = (workdir / "cert.pem", workdir / "key.pem")
    rmem = H.RmemMax(8 * MIB)
    rmem.__enter__()
    try:
        maximum = None
        if args.rate is None:
            try:
                maximum = probe(args, standin, tally, drainer, workdir, relay_bin, loadgen, tls,
                                rng)
            except AssertionError as e:
                log(f"soak: the probe's relays did not start: {e}")
                return 2
            rate = maximum * args.fraction
            tally = Tally()  # the soak's own counts
            drainer.swap(tally)
        else:
            rate = args.rate
        log(f"soak: {args.minutes:g} min at {rate:,.0f} msgs/s"
            + (f" ({args.fraction:g} of the measured {maximum:,.0f})" if maximum else ""))
        cpu0 = H.system_cpu_seconds()
        try:
            relays = Relays(workdir, standin, relay_bin, tls[0], tls[1], args.flush_interval,
                            "soak")
        except AssertionError as e:
            log(f"soak: the relays did not start: {e}")
            return 2
        life = (args.min_life, max(args.min_life, min(args.max_life, seconds / 10)))
        phase = Phase(args, standin, tally, relays, loadgen, tls, rate, seconds, life, "s",
                      rng)
        sampler = Sampler(relays, phase, tally, args.out / "soak.csv")
        next_sample = phase.start
        next_lose = phase.start + args.lose_every if args.lose_every else math.inf
        while phase.running():
            now = time.monotonic()
            if now >= next_sample:
                sampler.sample()
                next_sample += args.sample_every
                last = sampler.rows[-1] if sampler.rows else None
                if last and int(last["t"]) % 60 < args.sample_every:
                    log(f"  {last['t'] / 60:5.1f} min: sent {last['sent']:,}, delivered "
                        f"{last['delivered']:,}; " + ", ".join(
                            f"{r['relay']} RSS {r['rss_kib'] / 1024:.1f} MiB fds {r['fds']} "
                            f"spool {r['spool_files']}" for r in sampler.rows[-2:]))
                for name, r in relays.relays.items():
                    if not r.running():
                        raise RuntimeError(f"the {name} relay exited {r.proc.returncode}")
            if now >= next_lose:
                standin.lose_next(1)
                next_lose += args.lose_every
            time.sleep(min(0.2, max(0.0, min(next_sample, next_lose) - time.monotonic())))
        phase.join()
        load_seconds = time.monotonic() - phase.start
        sampler.sample()  # the end of the load: the last window's last point

        # Drain: everything sent over a stream, and UDP less the drops the relays counted.
        def expected():
            c = {n: r.counters_now() for n, r in relays.relays.items()}
            return (sum(phase.lane(k).sent for k in STREAM_LANES)
                    + phase.lane("udp").sent - c["syslog"].get("udp_dropped", 0)
                    - c["syslog"].get("udp_kernel_dropped", 0)
                    + phase.lane("gelf-udp-chunked").sent
                    - c["gelf"].get("gelf_chunk_sets_expired", 0)
                    - c["gelf"].get("gelf_chunk_sets_evicted", 0))

        drain_seconds = wait_drained(relays, expected, tally, args.settle, "drain",
                                     args.drain_timeout)
        udp_port_drops = {n: udp_socket_drops(p) for n, p in
                          (("syslog", relays.ports["tcp"]), ("gelf", relays.ports["gelf"]))}
        spool_left = {n: spool_depth(s)[0] for n, s in relays.spools.items()}
        stopped = relays.stop()
        drainer.stop()
        # What the relays could not deliver in time is still theirs, not lost: a SIGTERM spools
        # every buffer and leaves the records for the next start. Counted as copies that
        # explain themselves (not delivered, so never a duplicate).
        delivered_to_standin = tally.delivered
        lane_to_standin = {lane.kind: tally.lane_delivered(lane.run_id, lane.next_seq)
                           for lane in phase.lanes}
        spooled = {}
        for name, spool in relays.spools.items():
            before = tally.copies
            for path in sorted(Path(spool).glob("kinesyslog-*.gz")):
                tally.feed(SpooledRecord(path.read_bytes()))
            spooled[name] = tally.copies - before
        spooled_messages = sum(spooled.values())
        relays = None
        cpu_all = H.system_cpu_seconds() - cpu0
        wall = time.monotonic() - phase.start

        # ---- verdicts
        for lane in phase.lanes:
            failures += lane.failures[:3]
        for name, (rc, counters) in stopped.items():
            if rc != 0:
                failures.append(f"the {name} relay exited {rc} after SIGTERM")
            if not counters:
                failures.append(f"the {name} relay logged no final counters")
        for name, n in spool_left.items():
            if n:
                failures.append(f"not drained: {n:,} records left in the {name} relay's spool "
                                f"after {drain_seconds:.0f} s (the relay did not keep up; "
                                f"{spooled[name]:,} messages in them, not counted as lost)")
        sc, gc = stopped["syslog"][1], stopped["gelf"][1]
        lanes = {}
        for lane in phase.lanes:
            d = tally.lane_delivered(lane.run_id, lane.next_seq)
            lanes[lane.kind] = {"sent": lane.sent, "delivered": lane_to_standin[lane.kind],
                                "in_spool": d - lane_to_standin[lane.kind],
                                "missing": lane.sent - d,
                                "generators": lane.generators, "connections": lane.connections,
                                "send_errors": lane.errors,
                                "rate": round(lane.sent / load_seconds, 1)}
        for k in STREAM_LANES:
            if lanes[k]["missing"]:
                failures.append(f"loss: {lanes[k]['missing']:,} of {lanes[k]['sent']:,} {k} "
                                "messages not delivered")
        udp_drops = sc.get("udp_dropped", 0) + sc.get("udp_kernel_dropped", 0)
        u = lanes["udp"]
        if u["missing"] != udp_drops:
            failures.append(f"loss: udp delivered {u['sent'] - u['missing']:,}, expected sent "
                            f"{u['sent']:,} - counted drops {udp_drops:,}")
        g = lanes["gelf-udp-chunked"]
        gelf_drops = gc.get("udp_dropped", 0) + gc.get("udp_kernel_dropped", 0)
        gelf_expired = gc.get("gelf_chunk_sets_expired", 0) + gc.get("gelf_chunk_sets_evicted", 0)
        if not gelf_expired <= g["missing"] <= gelf_drops:
            failures.append(f"loss: chunked GELF missing {g['missing']:,}, not explained by "
                            f"{gelf_drops:,} datagrams dropped and {gelf_expired:,} chunk sets "
                            "expired or evicted")
        if tally.unexplained:
            failures.append(f"duplicates: {tally.unexplained:,} copies in records whose answer "
                            f"the relay saw (e.g. {', '.join(tally.unexplained_examples)})")
        if tally.stray:
            failures.append(f"{tally.stray:,} sequence numbers of no lane of this run")
        growth, window = growth_checks(sampler.rows, load_seconds, args.growth_limit)
        for g in growth:
            relay, what, a, b, rise, ok = (g["relay"], g["what"], g["second_window"],
                                           g["last_window"], g["rise"], g["ok"])
            if rise is None:
                failures.append(f"growth: no samples to compare for the {relay} relay's {what}")
            elif not ok:
                failures.append(f"growth: the {relay} relay's {what} rose {rise:.1%} "
                                f"({a:,.1f} -> {b:,.1f}) from the {window[0]:.0f} s window "
                                f"at {window[1]:.0f} s to the last")

        sent = phase.sent()
        rows = sampler.rows
        last_cpu = {n: max((r["cpu_seconds"] for r in rows if r["relay"] == n), default=0)
                    for n in ("syslog", "gelf")}
        summary = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(phase.wall_start)),
            "command": "bench/soak.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine_line, "load_average_before": load_before,
            "minutes": args.minutes, "load_seconds": round(load_seconds, 1),
            "drain_seconds": round(drain_seconds, 1), "measured_max_rate": maximum,
            "rate": round(rate, 1), "fraction": args.fraction,
            "achieved_rate": round(sent / load_seconds, 1),
            "sent": sent, "delivered": delivered_to_standin, "copies": tally.copies,
            "unexplained_duplicates": tally.unexplained,
            "explained_duplicates": tally.copies - tally.delivered - tally.unexplained,
            "present": tally.delivered,
            "records": tally.records, "lost_response_records": tally.lost_records,
            "left_in_spool_records": sum(spool_left.values()),
            "left_in_spool_messages": spooled_messages,
            "lanes": lanes, "udp_drops": {"syslog": udp_drops, "gelf": gelf_drops},
            "udp_port_drops_proc": udp_port_drops, "gelf_chunk_sets_expired": gelf_expired,
            "relay_cpu_percent": {n: round(100 * last_cpu[n] / load_seconds, 1)
                                  for n in last_cpu},
            "machine_cpu_percent": round(100 * cpu_all / wall, 1),
            "max_spool": {n: {"files": max((r["spool_files"] for r in rows if r["relay"] == n),
                                           default=0),
                              "bytes": max((r["spool_bytes"] for r in rows if r["relay"] == n),
                                           default=0),
                              "journal_bytes": max((r["journal_bytes"] for r in rows
                                                    if r["relay"] == n), default=0)}
                          for n in ("syslog", "gelf")},
            "window_seconds": round(window[0], 1), "early_window_start": round(window[1], 1),
            "growth": growth,
            "final_counters": {"syslog": sc, "gelf": gc}, "growth_limit": args.growth_limit,
            "rmem_max": rmem.note, "failures": failures,
        }
        (args.out / "soak.json").write_text(json.dumps(summary, indent=1) + "\n")
        sampler.csv.close()
        publish(summary, rows, args.out, args.update_readme)
        for f in failures:
            log(f"FAIL: {f}")
        if not failures:
            log("soak: PASS (no growth, no loss, no unexplained duplicate)")
        return 1 if failures else 0
    except RuntimeError as e:
        log(f"FAIL: {e}")
        return 1
    finally:
        if phase is not None:
            phase.stop()
            for lane in phase.lanes:
                if lane.proc is not None and lane.proc.poll() is None:
                    lane.proc.kill()
        if relays is not None:
            relays.kill()
        standin.stop()
        rmem.__exit__(None, None, None)
        if args.keep:
            log(f"kept {workdir}")
        else:
            subprocess.run(["rm", "-rf", str(workdir)], check=False)


def publish(summary, rows, out, update_readme):
    """Prints the report and writes soak.txt, the plot and (update_readme) the README block."""
    text = report(summary)
    print(text)
    (out / "soak.txt").write_text(text)
    png = write_plot(out, rows,
                     f"soak: {summary['minutes']:g} min at {summary['achieved_rate']:,.0f} "
                     "msgs/s of mixed syslog and GELF, 5 % of records failed")
    log(f"wrote {out / 'soak.csv'}, soak.json, soak.txt" + (f", {png}" if png else ""))
    if not update_readme:
        return
    rel = os.path.relpath(out, REPO / "bench")
    block = (f"Measured {summary['date']} with `/usr/bin/python3 {summary['command']}`\n\n"
             f"```\n{text}```\n"
             + (f"\n![soak samples over time]({rel}/soak.png)\n" if png else ""))
    readme = REPO / "bench" / "README.md"
    body = readme.read_text()
    begin, end = "<!-- soak:begin -->", "<!-- soak:end -->"
    a, b = body.find(begin), body.find(end)
    if a >= 0 and b > a:
        readme.write_text(body[:a + len(begin)] + "\n" + block + body[b:])
    else:
        log(f"{readme}: no {begin} ... {end} block; not updated")


def from_results(out, update_readme):
    """Renders soak.txt, the plot and the README block again from soak.json and soak.csv."""
    summary = json.loads((out / "soak.json").read_text())
    with open(out / "soak.csv", newline="") as f:
        rows = [{k: (v if k == "relay" else float(v)) for k, v in r.items()}
                for r in csv.DictReader(f)]
    summary["growth"], (w, early) = growth_checks(rows, summary["load_seconds"], summary.get(
        "growth_limit", 0.10))
    summary["window_seconds"], summary["early_window_start"] = round(w, 1), round(early, 1)
    publish(summary, rows, out, update_readme)
    return 1 if summary["failures"] else 0


def mib(kib):
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


def report(s):
    lines = [f"soak {s['date']}: {s['command']}",
             f"machine: {s['machine']}; load average before "
             + " ".join(f"{x:.2f}" for x in s["load_average_before"]),
             f"load {s['load_seconds']:g} s, drain {s['drain_seconds']:g} s; rate "
             f"{s['rate']:,.0f} msgs/s asked"
             + (f" ({s.get('fraction', 0.5):g} of the measured maximum "
                f"{s['measured_max_rate']:,.0f})"
                if s["measured_max_rate"] else "")
             + f", {s['achieved_rate']:,.0f} sent",
             f"messages: sent {s['sent']:,}, delivered {s['delivered']:,}, copies "
             f"{s['copies']:,} (explained by lost responses {s['explained_duplicates']:,}, "
             f"unexplained {s['unexplained_duplicates']:,}); records {s['records']:,}, of them "
             f"with a lost response {s['lost_response_records']:,}"
             + (f"; left in the spools after the drain: {s['left_in_spool_records']:,} records, "
                f"{s['left_in_spool_messages']:,} messages"
                if s.get("left_in_spool_records") else ""),
             f"{'lane':18} {'sent':>12} {'delivered':>12} {'in spool':>10} {'missing':>8} "
             f"{'msgs/s':>9} {'generators':>10} {'connections':>11}"]
    for k, v in s["lanes"].items():
        lines.append(f"{k:18} {v['sent']:>12,} {v['delivered']:>12,} {v.get('in_spool', 0):>10,} "
                     f"{v['missing']:>8,} {v['rate']:>9,.0f} {v['generators']:>10,} "
                     f"{v['connections']:>11,}")
    d, p = s["udp_drops"], s["udp_port_drops_proc"]
    lines.append(f"UDP datagrams dropped, counted by the relays: syslog {d['syslog']:,}, GELF "
                 f"{d['gelf']:,}; /proc/net/udp drops on their ports: syslog {p['syslog']:,}, "
                 f"GELF {p['gelf']:,}; GELF chunk sets expired or evicted "
                 f"{s['gelf_chunk_sets_expired']:,}")
    cpu = s["relay_cpu_percent"]
    lines.append(f"CPU (user+sys, mean over the load): syslog relay {cpu['syslog']:.1f} %, GELF "
                 f"relay {cpu['gelf']:.1f} % of one core; the whole machine "
                 f"{s['machine_cpu_percent']:.0f} % ({s['machine'].split()[0]} CPUs = "
                 f"{100 * int(s['machine'].split()[0])} %)")
    lines.append("largest spool: " + "; ".join(
        f"{n} relay {v['files']} record files, {v['bytes'] / MIB:.1f} MiB (journal "
        f"{v['journal_bytes'] / MIB:.1f} MiB)" for n, v in s["max_spool"].items()))
    w, early = s["window_seconds"], s["early_window_start"]
    lines.append(f"growth, window means: first (0-{w:g} s), early ({early:g}-{early + w:g} s, "
                 f"judged against), last ({s['load_seconds'] - w:g}-{s['load_seconds']:g} s)")

    def fmt(g, key):
        v = g.get(key)
        if v is None:
            return "n/a"
        if g["what"] == "RSS KiB":
            return mib(v)
        return f"{v / MIB:.1f} MiB" if g["what"] == "spool bytes" else f"{v:.1f}"

    for g in s["growth"]:
        rise = "n/a" if g["rise"] is None else f"{g['rise']:+.1%}"
        note = "  (reported, not judged)" if g["what"] in ("descriptors (all)",
                                                          "spool bytes") else ""
        what = "RSS" if g["what"] == "RSS KiB" else g["what"]
        verdict = "ok" if g["ok"] else "GROWTH"
        if note:
            # Reported only; a spool of a few flushes comes and goes with every upload.
            verdict = "grew" if g["rise"] is not None and g["rise"] > s.get(
                "growth_limit", 0.10) and (g["what"] != "spool bytes"
                                           or (g["last_window"] or 0) > 16 * MIB) else "-"
        lines.append(f"  {g['relay']:6} {what:26} {fmt(g, 'first_window'):>10} "
                     f"{fmt(g, 'second_window'):>10} -> {fmt(g, 'last_window'):>10} {rise:>7} "
                     f"{verdict}{note}")
    lines.append("result: " + ("PASS" if not s["failures"] else
                               "FAIL\n  " + "\n  ".join(s["failures"])))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
