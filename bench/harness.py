#!/usr/bin/python3
"""Whole-process benchmark of the kinesyslog relay (docs/design.md, "Performance targets";
bench/README.md).

For each scenario: start the built relay (delivering to an output directory, or with
`--target firehose` to the Firehose stand-in of the integration tests), send N messages with our
load generator (build/release/kinesyslog_loadgen) or syslog-ng's loggen, wait until every
message is delivered, stop the relay, decode every delivered record, and measure:

- delivered / missing / duplicated sequence numbers of this run (every message carries one);
- wall seconds from the start of the load to the last delivered object, and msgs/s over it;
- relay CPU (utime + stime of the whole process from /proc/PID/stat) between the start of the
  load and the last delivery, per million messages; peak RSS (VmHWM) before SIGTERM;
- compressed bytes per message, and `compressed_bytes_fed / json_bytes` from the relay's final
  counters (the record splitter must not compress the same bytes many times);
- compression share: the CPU time libdeflate alone needs to compress the delivered JSON at the
  same level (build/release/kinesyslog_yardstick, run on the delivered objects after the relay
  exits) over the relay's CPU time; over UDP, plus the CPU time a bare recvmmsg reader
  (build/release/kinesyslog_udp_reader) takes to receive the same load generator's datagrams,
  in the same scenario run, right after the relay's part.

`--journal on|off|both` runs the relay with its message journal, without it, or each scenario
both ways. `--peer NAME=COMMAND` adds rows for another relay under the same load and accounting
(bench/peer_rows.py).

Prints one table and the performance targets (docs/design.md) with PASS/MISS, writes results.csv and
plot.png (gnuplot, bench/plot.gp) into --out. Exits 1 when a TCP (or TLS) scenario, or a UDP
scenario whose sender is evenly paced, misses a message (a peer's too); 2 when the harness
itself could not run a scenario (a tool missing, the relay, a peer or the UDP reader not
starting or failing).

Debian's /usr/bin/python3, standard library only (plus the stand-in's botocore with
`--target firehose`).
"""

import argparse
import csv
import json
import os
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import peer_rows as peers  # bench/peer_rows.py, beside this file

REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
DEFAULT_FLUSH_SIZE = 4 * MIB
PARTIAL_BUDGET = 64 * MIB  # the relay's default --partial-budget
RMEM_MAX = "/proc/sys/net/core/rmem_max"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 90.0

# docs/design.md, "Performance targets" (with the journal on). Compression share by the kind of
# receive path and level: syslog over TCP and TLS; syslog and GELF over UDP (against the
# compression and the recvmmsg yardsticks together); GELF over TCP and TLS.
SHARE_TARGETS = {("tcp", 1): 0.77, ("tcp", 6): 0.85, ("udp", 1): 0.6, ("udp", 6): 0.77,
                 ("gelf-tcp", 1): 0.5}
TCP_OCTET_RATE_TARGET = 1_000_000  # msgs/s, tcp-octet-l1: TCP octet counting at level 1
TCP_RATE_FLOOR = 300_000  # msgs/s, the other TCP and TLS scenarios at level 1
UDP_RATE_TARGET = 200_000  # msgs/s at level 1, evenly paced, zero loss
FED_TARGET = 1.2
RATE_TOLERANCE = 0.01  # a paced sender's achieved rate may fall short of its goal by this much
READER_IDLE_TIMEOUT = 1.0  # the UDP reader stops when nothing arrived for this long
PEER_STOP_TIMEOUT = 30.0
SMOKE_PEER = ("self", "{relay} listen --address 127.0.0.1 --tcp-port {port} --udp-port 0 "
              "--spool-dir {workdir}/spool --output-dir {out} --compression-level {level} "
              "--flush-interval 0.2")


@dataclass
class Scenario:
    name: str
    sender: str  # loadgen | loggen
    transport: str  # tcp | udp | tls | gelf-udp | gelf-tcp | gelf-tls
    framing: str = "octet"  # octet | lf (tcp, tls)
    gelf_encoding: str = "plain"  # plain | zlib | gzip | chunked (gelf-udp)
    level: int = 1
    workers: int = 0
    count: int = 0
    rate: int = 0  # total msgs/s; 0 = unlimited
    sweep: bool = False  # a point of the workers x level plot
    journal: bool = True  # the relay's message journal (--no-journal when False)
    peer: str = ""  # a --peer row: the peer's name (not kinesyslog)
    peer_command: str = ""

    @property
    def stream(self):
        """The relay's receive path: tcp (TCP, TLS, GELF TCP) or udp."""
        return "udp" if self.transport in ("udp", "gelf-udp") else "tcp"

    @property
    def share_kind(self):
        """Which compression-share target applies (SHARE_TARGETS)."""
        if self.stream == "udp":
            return "udp"
        return "gelf-tcp" if self.transport.startswith("gelf") else "tcp"

    @property
    def relay(self):
        return self.peer or "kinesyslog"

    @property
    def label(self):
        """The row's name in notes and target lines."""
        if self.peer:
            return f"{self.peer}: {self.name}"
        return self.name if self.journal else f"{self.name} (journal off)"

    @property
    def paced(self):
        return self.rate > 0

    @property
    def must_not_lose(self):
        """Zero missing over TCP and TLS, and over UDP from a paced sender (docs/design.md)."""
        return self.stream == "tcp" or self.paced


@dataclass
class Result:
    scenario: Scenario
    run_id: str = ""
    sent: int = 0
    delivered: int = 0
    missing: int = 0
    duplicated: int = 0
    after_stop: int = 0  # delivered only by the shutdown flush
    events: int = 0  # every event in the delivered records, this run's or not
    records: int = 0
    objects: int = 0
    object_bytes: int = 0
    wall_seconds: float = 0.0
    sender_seconds: float = 0.0
    sender_rate: float = 0.0
    sender_errors: int = 0
    sender_datagrams: int = 0  # UDP: datagrams the load generator sent (chunks count apart)
    sender_cpu_seconds: float = 0.0  # the sender's user + sys CPU (it shares the machine)
    pacing_slip: float = 0.0  # seconds the paced sender fell behind its schedule
    cpu_seconds: float = 0.0
    peak_rss: int = 0  # bytes
    counters: dict = field(default_factory=dict)
    yardstick: dict = field(default_factory=dict)
    reader: dict = field(default_factory=dict)  # kinesyslog_udp_reader's JSON line (UDP)
    reader_cpu_used: float = None  # reader CPU counted in the share (scaled: see notes)
    notes: list = field(default_factory=list)  # remarks printed under the table
    records_format: bool = True  # the output is the relay's record format (peers: maybe not)
    rcvbuf_errors: int = 0  # kernel UDP RcvbufErrors during the run (system-wide)
    other_cpu_seconds: float = 0.0  # CPU used by neither relay, sender nor harness meanwhile
    scrapes: int = 0  # successful GET /metrics during the run (--scrape-every)
    window_seconds: float = 0.0  # between the two relay CPU samples
    relay_exit: int = None
    error: str = ""

    @property
    def msgs_per_second(self):
        return self.delivered / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def cpu_per_million(self):
        return self.cpu_seconds / self.delivered * 1e6 if self.delivered else 0.0

    @property
    def bytes_per_message(self):
        return self.object_bytes / self.delivered if self.delivered else 0.0

    @property
    def fed_over_json(self):
        json_bytes = self.counters.get("json_bytes", 0)
        return self.counters.get("compressed_bytes_fed", 0) / json_bytes if json_bytes else 0.0

    @property
    def compression_only_share(self):
        cpu = self.yardstick.get("cpu_seconds")
        return cpu / self.cpu_seconds if cpu is not None and self.cpu_seconds > 0 else 0.0

    @property
    def has_share(self):
        """The share is measured: the yardstick ran and, over UDP, the reader too."""
        return bool(self.yardstick) and (self.scenario.stream != "udp"
                                          or self.reader_cpu_used is not None)

    @property
    def compression_share(self):
        """The share the targets judge: compression yardstick CPU over the relay's, plus over
        UDP the recvmmsg reader's CPU for the same datagrams."""
        if not self.has_share or self.cpu_seconds <= 0:
            return 0.0
        reader = self.reader_cpu_used if self.scenario.stream == "udp" else 0.0
        return (self.yardstick["cpu_seconds"] + reader) / self.cpu_seconds

    @property
    def compression_cpu_seconds(self):
        """CPU the relay's encoders spent in the compressor during the run (its own count,
        kinesyslog_compression_cpu_seconds_total); None for a relay that does not count it."""
        micros = self.counters.get("compression_cpu_microseconds") if self.counters else None
        return micros / 1e6 if micros is not None else None

    @property
    def in_run_share(self):
        """As compression_share, with the relay's own compression CPU in place of the yardstick:
        both parts measured at the same moments on the same cores, so the machine's speed drift
        between the run and the yardstick (on shared virtual machines, tens of percent within
        minutes) cancels out. Over UDP the reader's CPU is added as for the yardstick."""
        compression = self.compression_cpu_seconds
        if compression is None or self.cpu_seconds <= 0 or not self.records_format:
            return None
        reader = 0.0
        if self.scenario.stream == "udp":
            if self.reader_cpu_used is None:
                return None
            reader = self.reader_cpu_used
        return (compression + reader) / self.cpu_seconds

    @property
    def failed(self):
        return bool(self.error) or (self.scenario.must_not_lose and self.missing > 0)


# ---------------------------------------------------------------------------------------------
# Scenarios


def scenarios(args):
    """Every known scenario by name, with counts for a full or a smoke run."""
    cores = os.cpu_count() or 1
    tcp_n = args.count or (20_000 if args.smoke else 3_000_000)
    udp_n = args.count or (20_000 if args.smoke else 2_000_000)
    loggen_n = args.count or (20_000 if args.smoke else 1_000_000)
    udp_rate = args.udp_rate
    known = [
        Scenario("tcp-octet-l1", "loadgen", "tcp", level=1, workers=cores, count=tcp_n,
                 sweep=True),
        Scenario("tcp-octet-l6", "loadgen", "tcp", level=6, workers=cores, count=tcp_n,
                 sweep=True),
        Scenario("tcp-lf-l1", "loadgen", "tcp", framing="lf", level=1, workers=cores,
                 count=tcp_n),
        Scenario("udp-paced-l1", "loadgen", "udp", level=1, workers=cores, count=udp_n,
                 rate=udp_rate),
        Scenario("udp-paced-l6", "loadgen", "udp", level=6, workers=cores, count=udp_n,
                 rate=udp_rate),
        Scenario("udp-unpaced-l1", "loadgen", "udp", level=1, workers=cores, count=udp_n),
        Scenario("loggen-tcp-l1", "loggen", "tcp", level=1, workers=cores, count=loggen_n),
        Scenario("loggen-udp-l1", "loggen", "udp", level=1, workers=cores, count=loggen_n,
                 rate=args.loggen_udp_rate),
        Scenario("tcp-octet-w1-l1", "loadgen", "tcp", level=1, workers=1, count=tcp_n,
                 sweep=True),
        Scenario("tcp-octet-w1-l6", "loadgen", "tcp", level=6, workers=1, count=tcp_n,
                 sweep=True),
        Scenario("tcp-octet-l9", "loadgen", "tcp", level=9, workers=cores, count=tcp_n,
                 sweep=True),
        Scenario("tcp-octet-w1-l9", "loadgen", "tcp", level=9, workers=1, count=tcp_n,
                 sweep=True),
        # TLS and GELF.
        Scenario("tls-octet-l1", "loadgen", "tls", level=1, workers=cores, count=tcp_n),
        Scenario("gelf-udp-plain-l1", "loadgen", "gelf-udp", gelf_encoding="plain", level=1,
                 workers=cores, count=udp_n, rate=udp_rate),
        Scenario("gelf-udp-plain-l6", "loadgen", "gelf-udp", gelf_encoding="plain", level=6,
                 workers=cores, count=udp_n, rate=udp_rate),
        Scenario("gelf-udp-gzip-l1", "loadgen", "gelf-udp", gelf_encoding="gzip", level=1,
                 workers=cores, count=udp_n, rate=udp_rate),
        Scenario("gelf-udp-chunked-l1", "loadgen", "gelf-udp", gelf_encoding="chunked",
                 level=1, workers=cores, count=udp_n, rate=udp_rate),
        Scenario("gelf-tcp-l1", "loadgen", "gelf-tcp", level=1, workers=cores, count=tcp_n),
        Scenario("gelf-tls-l1", "loadgen", "gelf-tls", level=1, workers=cores, count=tcp_n),
    ]
    return {s.name: s for s in known}


DEFAULT_FULL = ["tcp-octet-l1", "tcp-octet-l6", "tcp-lf-l1", "tls-octet-l1", "udp-paced-l1",
                "udp-paced-l6", "udp-unpaced-l1", "loggen-tcp-l1", "loggen-udp-l1",
                "gelf-udp-plain-l1", "gelf-udp-gzip-l1", "gelf-udp-chunked-l1", "gelf-tcp-l1",
                "gelf-tls-l1", "tcp-octet-w1-l1", "tcp-octet-w1-l6"]
DEFAULT_SMOKE = ["tcp-octet-l1", "udp-paced-l1", "tls-octet-l1", "gelf-udp-chunked-l1",
                 "gelf-tcp-l1"]


# ---------------------------------------------------------------------------------------------
# Small helpers


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", text, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a byte count (N, NK, NM or NG)")
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]


def free_port():
    """A port free on 127.0.0.1 for both TCP and UDP (the relay listens on both)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


class Scraper:
    """GET /metrics every `interval` seconds on its own thread, as a Prometheus server would."""

    def __init__(self, port, interval):
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.interval = interval
        self.count = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.wait(self.interval):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
                self.count += 1
            except OSError:
                pass

    def stop(self):
        self.stopping.set()
        self.thread.join()
        return self.count


def process_cpu_seconds(pid):
    """utime + stime of every thread of the process, live or exited (proc(5) fields 14, 15)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def udp_rcvbuf_errors():
    """The kernel's UDP RcvbufErrors (all sockets): datagrams dropped for a full socket buffer."""
    try:
        with open("/proc/net/snmp") as f:
            lines = [line.split() for line in f if line.startswith("Udp:")]
        header, values = lines[0], lines[1]
        return int(values[header.index("RcvbufErrors")])
    except (OSError, ValueError, IndexError):
        return 0


def system_cpu_seconds():
    """CPU seconds all CPUs spent not idle (proc(5) /proc/stat: user nice system irq softirq
    steal; guest time is already in user)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


def own_cpu_seconds():
    """(this process, reaped children) user + sys CPU seconds."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


def machine_description():
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    for line in run(["free", "-h"]).splitlines():
        if line.startswith("Mem:"):
            mem = line.split()[1]
    debian = "?"
    try:
        debian = Path("/etc/debian_version").read_text().strip()
    except OSError:
        pass
    return {
        "cpus": run(["nproc"]),
        "model": model,
        "memory": mem,
        "kernel": os.uname().release,
        "debian": debian,
    }


class RmemMax:
    """Raises net.core.rmem_max for the UDP scenarios (the relay asks for an 8 MiB receive
    buffer, which the kernel caps at rmem_max) and puts the old value back afterwards."""

    def __init__(self, wanted):
        self.wanted = wanted
        self.original = None
        self.used = None
        self.note = ""

    def __enter__(self):
        try:
            self.original = int(Path(RMEM_MAX).read_text())
        except (OSError, ValueError) as e:
            self.note = f"net.core.rmem_max unreadable ({e})"
            return self
        self.used = self.original
        if self.wanted and self.original < self.wanted:
            try:
                Path(RMEM_MAX).write_text(str(self.wanted))
                self.used = self.wanted
                self.note = (f"net.core.rmem_max raised from {self.original} to {self.wanted} "
                             "for the run (restored afterwards)")
            except OSError as e:
                self.note = (f"net.core.rmem_max left at {self.original}: cannot raise it to "
                             f"{self.wanted} ({e.strerror})")
        else:
            self.note = f"net.core.rmem_max {self.original} (already >= {self.wanted})"
        return self

    def __exit__(self, *exc):
        if self.original is not None and self.used != self.original:
            try:
                Path(RMEM_MAX).write_text(str(self.original))
            except OSError as e:
                log(f"could not restore net.core.rmem_max to {self.original}: {e}")


# ---------------------------------------------------------------------------------------------
# What the relay delivered


def gzip_members(data):
    """The decompressed members of a series of gzip members (a Firehose object)."""
    out = []
    while data:
        d = zlib.decompressobj(wbits=31)
        out.append(d.decompress(data))
        if not d.eof:
            raise ValueError("truncated gzip member")
        data = d.unused_data
    return out


class Tally:
    """Counts the sequence numbers of one run in delivered records. The sequence numbers are
    found in the record JSON bytes (they are ASCII, so JSON escaping leaves them alone); every
    record is also parsed as JSON, to check it is valid and to count its events."""

    def __init__(self, pattern, first, count):
        self.pattern = re.compile(pattern)
        self.counter = peers.SeqCounter(first, count)
        self.events = 0
        self.records = 0
        self.bad_records = 0

    @property
    def distinct(self):
        return self.counter.distinct

    @property
    def duplicated(self):
        return self.counter.duplicated

    def feed_record(self, raw):
        self.records += 1
        try:
            self.events += len(json.loads(raw)["logEvents"])
        except (ValueError, KeyError, TypeError):
            self.bad_records += 1
        add = self.counter.add
        for m in self.pattern.finditer(raw):
            add(int(m.group(1)))


class OutputDirSink:
    """Objects the relay writes under --output-dir (hidden names are still being written)."""

    def __init__(self, root):
        self.root = Path(root)
        self.known = set()
        self.paths = []
        self.bytes = 0
        self.last_time = 0.0

    def relay_args(self, _home):
        return ["--output-dir", str(self.root)], {}

    def scan(self):
        new = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith("."):
                    continue
                path = os.path.join(dirpath, name)
                if path not in self.known:
                    self.known.add(path)
                    st = os.stat(path)
                    self.bytes += st.st_size
                    self.last_time = max(self.last_time, st.st_mtime_ns / 1e9)
                    new.append(path)
        self.paths.extend(new)
        return new

    def read(self, item):
        with open(item, "rb") as f:
            return f.read()

    def yardstick_inputs(self, _workdir):
        return self.paths

    def close(self):
        pass


class FirehoseSink:
    """Records stored by the Firehose stand-in (tests/integration/firehose_standin.py)."""

    def __init__(self):
        sys.path.insert(0, str(REPO / "tests" / "integration"))
        from firehose_standin import FirehoseStandIn  # noqa: E402 (optional dependency)

        self.standin = FirehoseStandIn().start()
        self.done = 0
        self.bytes = 0
        self.last_time = 0.0
        self.paths = []

    def relay_args(self, home):
        return self.standin.relay_args(), self.standin.relay_env(Path(home))

    def scan(self):
        records = self.standin.records()
        new = records[self.done:]
        self.done = len(records)
        for r in new:
            self.bytes += len(r.data)
            self.last_time = max(self.last_time, r.time)
        return new

    def read(self, item):
        return item.data

    def yardstick_inputs(self, workdir):
        path = Path(workdir) / "firehose-records.gz"
        with open(path, "wb") as f:
            for r in self.standin.records():
                f.write(r.data)
        return [str(path)]

    def close(self):
        self.standin.stop()


# ---------------------------------------------------------------------------------------------
# One scenario


class Harness:
    def __init__(self, args):
        self.args = args
        build = Path(args.build_dir)
        self.relay_bin = Path(args.relay or build / "kinesyslog")
        self.loadgen_bin = Path(args.loadgen or build / "kinesyslog_loadgen")
        self.yardstick_bin = Path(args.yardstick or build / "kinesyslog_yardstick")
        self.reader_bin = Path(args.udp_reader or build / "kinesyslog_udp_reader")
        self.children = []
        self.groups = []  # process groups of running peers (a peer may start processes)

    def kill_children(self):
        for pgid in self.groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.groups = []
        for p in self.children:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.children = []

    def spawn(self, cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        self.children.append(p)
        return p

    def relay_command(self, sc, port, sink_args, workdir):
        a = self.args
        cmd = [str(self.relay_bin), "listen", "--address", "127.0.0.1",
               "--spool-dir", str(workdir / "spool"),
               "--compression-level", str(sc.level), "--workers", str(sc.workers),
               "--flush-interval", str(a.flush_interval)]
        if sc.stream == "udp":
            cmd += ["--udp-port", str(port), "--tcp-port", "0"]
        elif sc.transport in ("tls", "gelf-tls"):
            cmd += ["--tls-port", str(port), "--tcp-port", "0", "--udp-port", "0",
                    "--cert", str(workdir / "cert.pem"), "--key", str(workdir / "key.pem")]
        else:
            cmd += ["--tcp-port", str(port), "--udp-port", "0"]
        if sc.transport.startswith("gelf"):
            cmd.append("--gelf")
        if not sc.journal:
            cmd.append("--no-journal")
        if a.flush_size is not None:
            cmd += ["--flush-size", str(a.flush_size)]
        if a.scrape_every:
            cmd += ["--prometheus-port", str(self.metrics_port), "--prometheus-address",
                    "127.0.0.1"]
        return cmd + list(a.relay_arg) + sink_args

    def sender_command(self, sc, port, run_id):
        a = self.args
        if sc.sender == "loggen":
            # -P: RFC 5424 with octet-counting framing over TCP; -r is per connection.
            rate = sc.rate or a.loggen_rate
            return ["loggen", "-S" if sc.stream == "tcp" else "-D", "-P", "-r", str(rate),
                    "-s", str(a.size), "-n", str(sc.count), "-I", "3600", "127.0.0.1",
                    str(port)]
        cmd = [str(self.loadgen_bin), "--target", "127.0.0.1", "--port", str(port),
               "--transport", sc.transport, "--size", str(a.size), "--count", str(sc.count),
               "--rate", str(sc.rate), "--connections", str(a.connections),
               "--threads", str(a.threads), "--run-id", run_id, "--start-seq", "0",
               "--seed", str(a.seed)]
        if sc.transport in ("tcp", "tls"):
            cmd += ["--framing", sc.framing]
        if sc.transport == "gelf-udp":
            cmd += ["--gelf-encoding", sc.gelf_encoding]
        return cmd

    def make_cert(self, workdir):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(workdir / "key.pem"), "-out", str(workdir / "cert.pem")],
            check=True, capture_output=True, timeout=60)

    def run(self, sc):
        res = Result(sc)
        workdir = Path(tempfile.mkdtemp(prefix=f"kinesyslog-bench-{sc.relay}-{sc.name}-",
                                        dir=self.args.workdir))
        (workdir / "spool").mkdir()
        sink = None
        try:
            if sc.peer:
                self.run_peer(sc, res, workdir)
            else:
                sink = FirehoseSink() if self.args.target == "firehose" else \
                    OutputDirSink(workdir / "out")
                self.run_in(sc, res, workdir, sink)
            if sc.stream == "udp" and res.records_format and not res.error:
                self.run_reader(sc, res, workdir)
        except Exception as e:  # one broken scenario must not hide the others' results
            res.error = res.error or f"{type(e).__name__}: {e}"
        finally:
            self.kill_children()
            if sink is not None:
                sink.close()
            if self.args.keep:
                log(f"  kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
        return res

    def run_in(self, sc, res, workdir, sink):
        if sc.transport in ("tls", "gelf-tls"):
            self.make_cert(workdir)
        port = free_port()
        self.metrics_port = free_port()
        sink_args, sink_env = sink.relay_args(workdir / "home")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KINESYSLOG_")}
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env.update(sink_env)
        stderr_path = workdir / "relay.stderr"
        with open(stderr_path, "wb") as err:
            relay = self.spawn(self.relay_command(sc, port, sink_args, workdir), env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

        def relay_log():
            return stderr_path.read_text(errors="replace")

        deadline = time.monotonic() + READY_TIMEOUT
        while not re.search(r"\bready\b", relay_log()):
            if relay.poll() is not None:
                raise RuntimeError(f"relay exited with {relay.returncode} before ready: "
                                   f"{relay_log().strip()[-500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"relay not ready after {READY_TIMEOUT} s")
            time.sleep(0.02)

        res.run_id = secrets.token_hex(6)
        if sc.sender == "loggen":
            pattern = rb"seq: (\d{10}), thread: 0000, runid: "
        else:
            pattern = rb"run=" + res.run_id.encode() + rb" seq=(\d{10})"
        tally = Tally(pattern, 0, sc.count)

        scraper = Scraper(self.metrics_port, self.args.scrape_every) if self.args.scrape_every \
            else None
        window = Window(lambda: process_cpu_seconds(relay.pid))
        text, rc, res.sender_cpu_seconds = self.run_sender(sc, port, res.run_id, workdir)
        self.parse_sender(sc, res, text, rc)

        pending = []

        def alive():
            if relay.poll() is not None:
                raise RuntimeError(f"relay exited with {relay.returncode} during the load")

        def poll():
            new = sink.scan()
            pending.extend(new)
            return bool(new)

        def decode():
            for item in pending:
                for raw in gzip_members(sink.read(item)):
                    tally.feed_record(raw)
            pending.clear()

        delivered_at_stop, cpu1 = self.wait_delivered(
            alive, lambda: process_cpu_seconds(relay.pid), poll, decode, lambda: tally.distinct,
            res.sent)
        if scraper is not None:
            res.scrapes = scraper.stop()
            if res.scrapes == 0:
                raise RuntimeError("--scrape-every: no scrape of /metrics succeeded")
        window.close(res, cpu1)
        res.peak_rss = peak_rss_bytes(relay.pid)
        end_time = sink.last_time

        relay.send_signal(signal.SIGTERM)
        try:
            res.relay_exit = relay.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            relay.kill()
            res.relay_exit = relay.wait()
            res.error = f"relay did not exit within {STOP_TIMEOUT:.0f} s of SIGTERM"
        stderr = relay_log()
        for line in reversed(stderr.splitlines()):
            at = line.find("final counters:")
            if at >= 0:
                res.counters = {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", line[at:])}
                break
        if res.relay_exit != 0 and not res.error:
            res.error = f"relay exited with {res.relay_exit}: {stderr.strip()[-300:]}"

        poll()  # what the shutdown flush delivered
        decode()
        res.after_stop = tally.distinct - delivered_at_stop
        res.delivered = tally.distinct
        res.duplicated = tally.duplicated
        res.missing = max(0, res.sent - tally.distinct)
        res.events = tally.events
        res.records = tally.records
        res.objects = len(sink.paths) if isinstance(sink, OutputDirSink) else tally.records
        res.object_bytes = sink.bytes
        res.wall_seconds = max(0.0, end_time - window.t0)
        if tally.bad_records:
            res.error = res.error or f"{tally.bad_records} delivered records are not valid JSON"
        if res.after_stop:
            log(f"  note: {res.after_stop} messages were delivered only by the shutdown flush")

        if res.records and self.yardstick_bin.exists():
            res.yardstick = self.run_yardstick(sc, sink.yardstick_inputs(workdir), workdir)
        elif res.records:
            log(f"  no yardstick at {self.yardstick_bin}: compression share not measured")

    def run_peer(self, sc, res, workdir):
        """A --peer row: the peer's command instead of the relay, under the same load; its CPU
        and peak RSS are its whole process tree's, its output every file under {out}."""
        if sc.transport in ("tls", "gelf-tls"):
            self.make_cert(workdir)
        out = workdir / "out"
        out.mkdir()
        port = free_port()
        values = {"port": port, "protocol": sc.stream, "out": out, "workdir": workdir,
                  "level": sc.level, "cert": workdir / "cert.pem", "key": workdir / "key.pem"}
        argv = peers.expand_command(sc.peer_command, values)
        env = dict(os.environ)
        env.update(peers.peer_environment(values))
        log_path = workdir / "peer.log"
        with open(log_path, "wb") as f:
            # Its own session: SIGTERM reaches every process it starts, and only those.
            proc = self.spawn(argv, env=env, stdin=subprocess.DEVNULL, stdout=f,
                              stderr=subprocess.STDOUT, start_new_session=True)
        self.groups.append(proc.pid)

        def tail():
            return log_path.read_text(errors="replace").strip()[-500:]

        self.wait_peer_listening(sc, proc, port, tail)
        res.run_id = secrets.token_hex(6)
        scanner = peers.OutputScanner(out, res.run_id, 0, sc.count)
        window = Window(lambda: peers.tree_cpu_seconds(proc.pid, CLK_TCK))
        text, rc, res.sender_cpu_seconds = self.run_sender(sc, port, res.run_id, workdir)
        self.parse_sender(sc, res, text, rc)

        def alive():
            if proc.poll() is not None:
                raise RuntimeError(f"peer exited with {proc.returncode} during the load: "
                                   f"{tail()}")

        delivered_at_stop, cpu1 = self.wait_delivered(
            alive, lambda: peers.tree_cpu_seconds(proc.pid, CLK_TCK), scanner.changed,
            scanner.decode, lambda: scanner.distinct, res.sent)
        window.close(res, cpu1)
        res.peak_rss = peers.tree_peak_rss(proc.pid)
        end_time = scanner.last_time
        res.relay_exit, stop_error, exit_cpu = self.stop_peer(proc)
        if stop_error or res.relay_exit not in (0, -signal.SIGTERM):
            res.error = stop_error or f"peer exited with {res.relay_exit}: {tail()}"

        scanner.decode()  # what it wrote on the way out
        res.after_stop = scanner.distinct - delivered_at_stop
        if res.after_stop:  # then its last delivery, and the work for it, came on SIGTERM
            end_time = scanner.last_time
            note = f"{res.after_stop:,} messages were written only on SIGTERM"
            if exit_cpu is not None:
                res.cpu_seconds = exit_cpu - window.cpu0
                note += "; its CPU is counted to its exit"
            res.notes.append(note)
        res.delivered = scanner.distinct
        res.duplicated = scanner.duplicated
        res.missing = max(0, res.sent - scanner.distinct)
        files = scanner.file_paths()
        res.objects = len(files)
        res.object_bytes = scanner.bytes
        res.wall_seconds = max(0.0, end_time - window.t0)
        for path, why in scanner.broken_files():
            res.notes.append(f"{path}: {why}; what followed was not read")
        res.records_format = peers.is_record_objects(files, gzip_members)
        if res.records_format:
            tally = Tally(rb"run=" + res.run_id.encode() + rb" seq=(\d{10})", 0, sc.count)
            for path in files:
                for raw in gzip_members(Path(path).read_bytes()):
                    tally.feed_record(raw)
            res.records, res.events = tally.records, tally.events
            if self.yardstick_bin.exists():
                res.yardstick = self.run_yardstick(sc, files, workdir)

    def wait_peer_listening(self, sc, proc, port, tail):
        """Until the peer accepts TCP connections on the port, or has a UDP socket bound to it
        (/proc/net/udp): a UDP peer cannot be asked."""
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"peer exited with {proc.returncode} before listening on "
                                   f"{port}: {tail()}")
            if sc.stream == "udp":
                if port in peers.udp_bound_ports():
                    return
            elif peers.tcp_accepts(port):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"peer not listening on {sc.stream.upper()} port {port} "
                                   f"after {READY_TIMEOUT} s: {tail()}")
            time.sleep(0.05)

    def stop_peer(self, proc):
        """SIGTERM to the peer's process group, then wait until the whole group is gone (a
        wrapper may exit before what it started has written its last output); SIGKILL after
        PEER_STOP_TIMEOUT. Returns (the peer's exit status, an error or "", the CPU seconds
        of its whole life with the children it reaped, from wait4, or None)."""
        pgid = proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + PEER_STOP_TIMEOUT
        error, exit_cpu = "", None
        while True:
            if proc.returncode is None:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    exit_cpu = usage.ru_utime + usage.ru_stime
            if proc.returncode is not None:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:  # no process of the group is left
                    break
            if time.monotonic() > deadline:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                error = f"peer did not exit within {PEER_STOP_TIMEOUT:.0f} s of SIGTERM"
                break
            time.sleep(0.05)
        self.groups.remove(pgid)
        return proc.returncode, error, exit_cpu

    def run_sender(self, sc, port, run_id, workdir, name="sender"):
        """Runs the scenario's sender to the port; returns (its output, its exit status, its
        CPU seconds: the only child reaped meanwhile, so RUSAGE_CHILDREN's growth)."""
        out_path = workdir / f"{name}.out"
        _self, children0 = own_cpu_seconds()
        with open(out_path, "wb") as out:
            sender = self.spawn(self.sender_command(sc, port, run_id), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT)
            limit = max(120.0, sc.count / 20_000)
            try:
                sender.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"{name} still running after {limit:.0f} s") from None
        _self, children1 = own_cpu_seconds()
        return out_path.read_text(errors="replace"), sender.returncode, children1 - children0

    def parse_sender(self, sc, res, text, rc):
        if sc.sender == "loggen":
            # loggen ends with "average rate = R msg/sec, count=N, time=T, ...".
            m = re.search(r"average rate = ([\d.]+) msg/sec, count=(\d+), time=([\d.]+)", text)
            if rc != 0 or not m:
                raise RuntimeError(f"loggen failed (exit {rc}): {text.strip()[-300:]}")
            res.sender_rate, res.sent, res.sender_seconds = float(m[1]), int(m[2]), float(m[3])
            res.sender_datagrams = res.sent if sc.stream == "udp" else 0
            return
        for line in reversed(text.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                res.sent = int(doc["sent"])
                res.sender_seconds = float(doc.get("seconds", 0))
                res.sender_rate = float(doc.get("rate", 0))
                res.sender_errors = int(doc.get("errors", 0))
                res.sender_datagrams = int(doc.get("datagrams", 0))
                res.pacing_slip = float(doc.get("pacing_slip_seconds", 0))
                if rc != 0:
                    res.error = f"load generator exited with {rc}"
                return
        raise RuntimeError(f"load generator (exit {rc}) printed no JSON line: {text[-300:]}")

    def wait_delivered(self, alive, cpu_now, poll, decode, distinct, expected):
        """Polls the output until every sent sequence number arrived, or nothing new arrived
        for --settle seconds. `poll()` only looks for new output (cheap); `decode()` reads and
        counts it, and runs only while the process under test is nearly idle, so the harness's
        Python does not compete with it for the 2 cores. Returns (distinct seqs seen, its CPU
        seconds at that moment)."""
        settle = self.args.settle
        pending = False
        last_new = time.monotonic()
        prev_cpu, prev_t = cpu_now(), time.monotonic()
        while True:
            time.sleep(0.2)
            alive()
            if poll():
                pending = True
                last_new = time.monotonic()
            now = time.monotonic()
            cpu = cpu_now()
            busy = (cpu - prev_cpu) / (now - prev_t)
            prev_cpu, prev_t = cpu, now
            quiet = now - last_new > settle
            if pending and (busy < 0.3 or quiet):
                decode()
                pending = False
                if distinct() >= expected:
                    return distinct(), cpu_now()
                continue
            if not pending and (distinct() >= expected or quiet):
                return distinct(), cpu

    def run_reader(self, sc, res, workdir):
        """The UDP yardstick: kinesyslog_udp_reader receives the same load generator command's
        datagrams (same count, rate, sockets, encoding, seed), right after the relay's part of
        the run. Its CPU is counted for the datagrams the relay received: when the two received
        different counts, scaled per datagram."""
        if not self.reader_bin.exists():
            raise RuntimeError(f"not built: {self.reader_bin} "
                               "(scripts/build.sh kinesyslog_udp_reader)")
        expected = res.sender_datagrams or res.sent
        port = free_port()
        err_path, out_path = workdir / "reader.err", workdir / "reader.out"
        with open(err_path, "wb") as err, open(out_path, "wb") as out:
            reader = self.spawn(
                [str(self.reader_bin), "--address", "127.0.0.1", "--port", str(port),
                 "--count", str(expected), "--idle-timeout", str(READER_IDLE_TIMEOUT),
                 "--start-timeout", str(READY_TIMEOUT + 60),
                 "--coalesce-us", str(self.args.reader_coalesce_us)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = time.monotonic() + READY_TIMEOUT
        while "ready" not in err_path.read_text(errors="replace"):
            if reader.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("UDP reader did not start: "
                                   + err_path.read_text(errors="replace").strip()[-300:])
            time.sleep(0.02)
        load = Result(sc)
        text, rc, _cpu = self.run_sender(sc, port, res.run_id, workdir, name="reader-sender")
        self.parse_sender(sc, load, text, rc)
        try:
            reader.wait(timeout=READER_IDLE_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            raise RuntimeError("UDP reader still running 30 s after the load ended") from None
        doc = None
        for line in reversed(out_path.read_text(errors="replace").splitlines()):
            if line.strip().startswith("{"):
                doc = json.loads(line)
                break
        if reader.returncode != 0 or doc is None or not doc.get("datagrams"):
            raise RuntimeError(f"UDP reader failed (exit {reader.returncode}): "
                               + (err_path.read_text(errors="replace")
                                  + out_path.read_text(errors="replace")).strip()[-300:])
        res.reader = doc
        got, cpu = int(doc["datagrams"]), float(doc["cpu_seconds"])
        # The relay's datagrams: its counter, or for a peer those of the messages it delivered.
        relay_got = res.counters.get("udp_datagrams")
        if relay_got is None:
            relay_got = round(expected * res.delivered / res.sent) if res.sent else expected
        res.reader_cpu_used = cpu
        if got != relay_got:
            res.reader_cpu_used = cpu / got * relay_got
            lost = (f"lost {expected - got:,} of {expected:,} datagrams (its kernel drops "
                    f"{doc.get('kernel_drops', '?')})" if got < expected
                    else f"received {got:,} datagrams")
            res.notes.append(f"the UDP reader {lost}; its CPU {cpu:.3f} s is scaled per "
                             f"datagram to the relay's {relay_got:,}: {res.reader_cpu_used:.3f} s")

    def run_yardstick(self, sc, inputs, workdir):
        list_path = workdir / "yardstick.list"
        list_path.write_text("".join(f"{p}\n" for p in inputs))
        p = subprocess.run([str(self.yardstick_bin), "--level", str(sc.level),
                            "--list", str(list_path)],
                           capture_output=True, text=True, timeout=600)
        for line in reversed(p.stdout.splitlines()):
            if line.strip().startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    pass
        log(f"  yardstick failed (exit {p.returncode}): {(p.stderr or p.stdout).strip()[-300:]}")
        return {}


class Window:
    """The measured window of one run: the CPU of the process under test between the start of
    the load and the last delivery, and what else the machine did meanwhile."""

    def __init__(self, cpu_now):
        self.rcvbuf0 = udp_rcvbuf_errors()
        self.system0, (self.self0, self.children0) = system_cpu_seconds(), own_cpu_seconds()
        self.cpu0 = cpu_now()
        self.t0 = time.time()
        self.monotonic0 = time.monotonic()

    def close(self, res, cpu1):
        res.cpu_seconds = cpu1 - self.cpu0
        res.window_seconds = time.monotonic() - self.monotonic0
        # Whatever else ran meanwhile (other processes, the hypervisor's steal) took CPU the
        # relay and the sender could have had: reported so a noisy run can be told apart.
        self1, children1 = own_cpu_seconds()
        res.other_cpu_seconds = max(0.0, system_cpu_seconds() - self.system0 - res.cpu_seconds
                                    - (self1 - self.self0) - (children1 - self.children0))
        res.rcvbuf_errors = udp_rcvbuf_errors() - self.rcvbuf0


# ---------------------------------------------------------------------------------------------
# Output

def share_cell(r):
    return f"{r.compression_share:.2f}" if r.has_share and r.records_format else "-"


def in_run_share_cell(r):
    return f"{r.in_run_share:.2f}" if r.in_run_share is not None else "-"


BASE_COLUMNS = [
    # (header, width, format(result))
    ("scenario", 19, lambda r: r.scenario.name),
    ("sent", 9, lambda r: f"{r.sent:,}"),
    ("delivered", 9, lambda r: f"{r.delivered:,}"),
    ("missing", 7, lambda r: f"{r.missing:,}"),
    ("dup", 5, lambda r: f"{r.duplicated:,}"),
    ("wall s", 6, lambda r: f"{r.wall_seconds:.2f}"),
    ("msgs/s", 9, lambda r: f"{r.msgs_per_second:,.0f}"),
    ("CPU s/M", 7, lambda r: f"{r.cpu_per_million:.2f}"),
    ("RSS MiB", 7, lambda r: f"{r.peak_rss / MIB:.1f}"),
    ("B/msg", 6, lambda r: f"{r.bytes_per_message:.1f}"),
    ("fed/json", 8, lambda r: f"{r.fed_over_json:.3f}" if r.counters else "-"),
    ("comp share", 10, share_cell),
    ("in-run share", 12, in_run_share_cell),
]
RELAY_COLUMN = ("relay", 10, lambda r: r.scenario.relay)
JOURNAL_COLUMN = ("journal", 7, lambda r: journal_cell(r))


def journal_cell(r):
    return "-" if r.scenario.peer else ("on" if r.scenario.journal else "off")


def columns(results):
    """The table's columns: `relay` when a peer was measured, `journal` when kinesyslog ran
    both with and without its journal."""
    cols = list(BASE_COLUMNS)
    if any(r.scenario.peer for r in results):
        cols.insert(1, RELAY_COLUMN)
    if len({r.scenario.journal for r in results if not r.scenario.peer}) > 1:
        cols.insert(2 if cols[1] is RELAY_COLUMN else 1, JOURNAL_COLUMN)
    return cols


def text_table(results):
    cols = columns(results)
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w, _f) in enumerate(cols))]
    for r in results:
        cells = [f(r) for _h, _w, f in cols]
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, (_h, w, _f)) in enumerate(zip(cells, cols))))
    return "\n".join(lines)


def markdown_table(results):
    cols = columns(results)
    right = {"sent", "delivered", "missing", "dup", "wall s", "msgs/s", "CPU s/M", "RSS MiB",
             "B/msg", "fed/json", "comp share", "in-run share"}
    lines = ["| " + " | ".join(h for h, _w, _f in cols) + " |",
             "| " + " | ".join("---:" if h in right else "---" for h, _w, _f in cols) + " |"]
    for r in results:
        lines.append("| " + " | ".join(f(r) for _h, _w, f in cols) + " |")
    return "\n".join(lines)


def share_target(sc):
    """The compression-share target of a scenario (docs/design.md), or None: our load
    generator's scenarios that must not lose messages, at the levels the design names."""
    if sc.sender != "loadgen" or not sc.must_not_lose:
        return None
    return SHARE_TARGETS.get((sc.share_kind, sc.level))


def rate_target(sc):
    """(msgs/s, what) a scenario must reach, or None: at level 1 with a worker per core, 1,000,000
    for TCP octet counting (tcp-octet-l1), 300,000 for the other unpaced TCP and TLS
    scenarios; the paced UDP scenario is judged on its pace and loss instead."""
    if sc.level != 1 or sc.sender != "loadgen" or sc.workers != (os.cpu_count() or 1):
        return None
    if sc.stream != "tcp" or sc.paced:
        return None
    if sc.transport == "tcp" and sc.framing == "octet":
        return TCP_OCTET_RATE_TARGET, f"msgs/s >= {TCP_OCTET_RATE_TARGET:,}"
    return TCP_RATE_FLOOR, f"msgs/s >= {TCP_RATE_FLOOR:,} (floor)"


def targets(results, args):
    """(row, target, measured, PASS/MISS) for the performance targets (docs/design.md). A
    peer's row is judged on loss only: the targets are the relay's."""
    rows = []
    flush = args.flush_size or DEFAULT_FLUSH_SIZE
    for r in results:
        sc = r.scenario
        if r.error or not r.sent:
            continue
        if sc.must_not_lose:
            rows.append((sc.label, "missing = 0", f"{r.missing:,}",
                         "PASS" if r.missing == 0 else "MISS"))
        if sc.peer:
            continue
        share = share_target(sc)
        if share is not None and r.has_share:
            what = ("compression share (+ recvmmsg reader)" if sc.stream == "udp"
                    else "compression share")
            rows.append((sc.label, f"{what} >= {share:.2f}", f"{r.compression_share:.2f}",
                         "PASS" if r.compression_share >= share else "MISS"))
        rate = rate_target(sc)
        if rate is not None:
            rows.append((sc.label, rate[1], f"{r.msgs_per_second:,.0f}",
                         "PASS" if r.msgs_per_second >= rate[0] else "MISS"))
        if (sc.level == 1 and sc.sender == "loadgen" and sc.transport == "udp" and sc.paced
                and sc.workers == (os.cpu_count() or 1)):
            ok = (r.missing == 0 and sc.rate >= UDP_RATE_TARGET
                  and r.sender_rate >= UDP_RATE_TARGET * (1 - RATE_TOLERANCE))
            rows.append((sc.label, f"paced {UDP_RATE_TARGET:,} msgs/s, zero loss",
                         f"sent at {r.sender_rate:,.0f}/s, missing {r.missing:,}",
                         "PASS" if ok else "MISS"))
        if r.counters and args.flush_size is None:
            rows.append((sc.label, f"fed/json <= {FED_TARGET}", f"{r.fed_over_json:.3f}",
                         "PASS" if r.fed_over_json <= FED_TARGET else "MISS"))
        budget = 64 * MIB + 2 * flush * sc.workers + PARTIAL_BUDGET
        rows.append((sc.label, f"peak RSS <= {budget / MIB:.0f} MiB",
                     f"{r.peak_rss / MIB:.1f} MiB", "PASS" if r.peak_rss <= budget else "MISS"))
    return rows


def targets_text(rows):
    if not rows:
        return ""
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{a.ljust(w[0])}  {b.ljust(w[1])}  {c.rjust(w[2])}  {d}"
                     for a, b, c, d in rows)


def reader_field(key):
    return lambda r: r.reader.get(key, "")


CSV_FIELDS = [
    ("scenario", lambda r: r.scenario.name),
    ("relay", lambda r: r.scenario.relay),
    ("relay_command", lambda r: r.scenario.peer_command),
    ("journal", lambda r: "" if r.scenario.peer else ("on" if r.scenario.journal else "off")),
    ("sender", lambda r: r.scenario.sender),
    ("transport", lambda r: r.scenario.transport),
    ("framing", lambda r: r.scenario.framing if r.scenario.transport in ("tcp", "tls") else ""),
    ("gelf_encoding", lambda r: r.scenario.gelf_encoding
     if r.scenario.transport == "gelf-udp" else ""),
    ("workers", lambda r: "" if r.scenario.peer else r.scenario.workers),
    ("level", lambda r: r.scenario.level),
    ("rate_goal", lambda r: r.scenario.rate),
    ("run_id", lambda r: r.run_id),
    ("sent", lambda r: r.sent),
    ("sender_datagrams", lambda r: r.sender_datagrams if r.scenario.stream == "udp" else ""),
    ("delivered", lambda r: r.delivered),
    ("missing", lambda r: r.missing),
    ("duplicated", lambda r: r.duplicated),
    ("after_stop", lambda r: r.after_stop),
    ("wall_seconds", lambda r: f"{r.wall_seconds:.3f}"),
    ("msgs_per_second", lambda r: f"{r.msgs_per_second:.0f}"),
    ("sender_seconds", lambda r: f"{r.sender_seconds:.3f}"),
    ("sender_rate", lambda r: f"{r.sender_rate:.0f}"),
    ("sender_errors", lambda r: r.sender_errors),
    ("sender_cpu_seconds", lambda r: f"{r.sender_cpu_seconds:.2f}"),
    ("sender_pacing_slip_seconds", lambda r: f"{r.pacing_slip:.3f}"),
    ("relay_cpu_seconds", lambda r: f"{r.cpu_seconds:.2f}"),
    ("cpu_seconds_per_million", lambda r: f"{r.cpu_per_million:.3f}"),
    ("peak_rss_bytes", lambda r: r.peak_rss),
    ("records", lambda r: r.records),
    ("objects", lambda r: r.objects),
    ("object_bytes", lambda r: r.object_bytes),
    ("compressed_bytes_per_message", lambda r: f"{r.bytes_per_message:.2f}"),
    ("json_bytes", lambda r: r.counters.get("json_bytes", "")),
    ("compressed_bytes_fed", lambda r: r.counters.get("compressed_bytes_fed", "")),
    ("fed_over_json", lambda r: f"{r.fed_over_json:.4f}" if r.counters else ""),
    ("yardstick_cpu_seconds", lambda r: r.yardstick.get("cpu_seconds", "")),
    ("compression_only_share",
     lambda r: f"{r.compression_only_share:.4f}" if r.yardstick else ""),
    ("relay_compression_cpu_seconds",
     lambda r: f"{r.compression_cpu_seconds:.3f}" if r.compression_cpu_seconds is not None else ""),
    ("in_run_share", lambda r: f"{r.in_run_share:.4f}" if r.in_run_share is not None else ""),
    ("yardstick_over_relay_compression",
     lambda r: (f"{r.yardstick['cpu_seconds'] / r.compression_cpu_seconds:.3f}"
                if r.yardstick and r.compression_cpu_seconds else "")),
    ("reader_datagrams", reader_field("datagrams")),
    ("reader_bytes", reader_field("bytes")),
    ("reader_calls", reader_field("calls")),
    ("reader_kernel_drops", reader_field("kernel_drops")),
    ("reader_cpu_seconds", reader_field("cpu_seconds")),
    ("reader_cpu_seconds_counted",
     lambda r: f"{r.reader_cpu_used:.6f}" if r.reader_cpu_used is not None else ""),
    ("compression_share", lambda r: f"{r.compression_share:.4f}" if r.has_share else ""),
    ("udp_datagrams", lambda r: r.counters.get("udp_datagrams", "")),
    ("udp_dropped", lambda r: r.counters.get("udp_dropped", "")),
    ("udp_kernel_dropped", lambda r: r.counters.get("udp_kernel_dropped", "")),
    ("udp_read_pauses", lambda r: r.counters.get("udp_read_pauses", "")),
    ("kernel_udp_rcvbuf_errors", lambda r: r.rcvbuf_errors if r.scenario.stream == "udp" else ""),
    ("other_cpu_seconds", lambda r: f"{r.other_cpu_seconds:.2f}"),
    ("scrapes", lambda r: r.scrapes),
    ("measured_window_seconds", lambda r: f"{r.window_seconds:.2f}"),
    ("relay_exit", lambda r: "" if r.relay_exit is None else r.relay_exit),
    ("notes", lambda r: "; ".join(r.notes)),
    ("error", lambda r: r.error),
]


def write_csv(path, results):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([name for name, _f in CSV_FIELDS])
        for r in results:
            w.writerow([f(r) for _name, f in CSV_FIELDS])


def write_plot(out, results, title):
    """msgs/s and CPU s per million messages against workers, one line per level (and per
    journal setting when both were measured), from the TCP octet-counting scenarios of our load
    generator."""
    points = {}
    for r in results:
        sc = r.scenario
        if sc.sweep and not sc.peer and not r.error and r.delivered:
            points.setdefault((not sc.journal, sc.level), []).append(
                (sc.workers, r.msgs_per_second, r.cpu_per_million))
    if not points:
        for stale in ("sweep.dat", "plot.png"):  # never leave a plot of another run beside
            (out / stale).unlink(missing_ok=True)
        return None
    series = sorted(points)  # journal on first, then off; by level
    both = len({off for off, _level in series}) > 1
    data = out / "sweep.dat"
    with open(data, "w") as f:
        for off, level in series:
            f.write(f"# level {level}, journal {'off' if off else 'on'}: workers msgs_per_second "
                    "cpu_seconds_per_million\n")
            for p in sorted(points[(off, level)]):
                f.write(f"{p[0]} {p[1]:.0f} {p[2]:.3f}\n")
            f.write("\n\n")
    levels = " ".join(str(level) for _off, level in series)
    journals = " ".join("off" if off else "on" for off, _level in series) if both else ""
    png = out / "plot.png"
    cmd = ["gnuplot", "-e",
           f"datafile='{data}'; outfile='{png}'; levels='{levels}'; journals='{journals}'; "
           f"title='{title}'",
           str(REPO / "bench" / "plot.gp")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        log(f"gnuplot failed: {p.stderr.strip()}")
        return None
    return png


def notes_lines(results):
    """Per-scenario remarks: UDP loss, a sender behind its pace, a disturbed run, the UDP
    reader's count when it differs, errors."""
    lines = []
    for r in results:
        sc = r.scenario
        if sc.stream == "udp" and not sc.must_not_lose and r.sent:
            lines.append(f"{sc.label}: unpaced UDP lost {r.missing:,} of {r.sent:,} "
                         f"({100.0 * r.missing / r.sent:.2f} %; relay udp_dropped "
                         f"{r.counters.get('udp_dropped', '?')}, kernel RcvbufErrors "
                         f"{r.rcvbuf_errors:,}): reported, not a failure")
        if sc.paced and r.sent and r.sender_rate < sc.rate * (1 - RATE_TOLERANCE):
            lines.append(f"{sc.label}: the sender fell behind its pace ({r.sender_rate:,.0f} of "
                         f"{sc.rate:,} msgs/s, {r.pacing_slip:.2f} s late)")
        if r.other_cpu_seconds > 0.1 * r.window_seconds:
            lines.append(f"{sc.label}: other processes took {r.other_cpu_seconds:.1f} CPU s in "
                         f"its {r.window_seconds:.1f} s: its throughput is disturbed")
        if sc.peer and not r.records_format and r.delivered:
            lines.append(f"{sc.label}: output not in the relay's record format: no "
                         "compression share")
        lines.extend(f"{sc.label}: {note}" for note in r.notes)
        if r.error:
            lines.append(f"{sc.label}: ERROR {r.error}")
    return lines


def update_readme(readme, block):
    text = readme.read_text()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    a, b = text.find(begin), text.find(end)
    if a < 0 or b < a:
        log(f"{readme}: no {begin} ... {end} block; not updated")
        return
    readme.write_text(text[:a + len(begin)] + "\n" + block + "\n" + text[b:])


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(
        description="Whole-process benchmark of the kinesyslog relay (bench/README.md).")
    ap.add_argument("--smoke", action="store_true",
                    help="20,000 messages, 5 scenarios and our own relay as a --peer "
                    "(seconds); fails when a check of the harness itself fails")
    ap.add_argument("--scenarios", help="comma-separated names, 'all', or 'none' (only the "
                    "--peer rows); see --list")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--out", help="results directory (default bench/results; "
                    "with --smoke build/bench-smoke, so a smoke run never replaces the "
                    "published results)")
    ap.add_argument("--target", choices=("output-dir", "firehose"), default="output-dir",
                    help="deliver to an output directory (default) or the Firehose stand-in")
    ap.add_argument("--count", type=int, help="messages per scenario (default 3,000,000 TCP, "
                    "2,000,000 UDP, 1,000,000 loggen; 20,000 with --smoke)")
    ap.add_argument("--size", type=int, default=200, help="message size in bytes (200)")
    ap.add_argument("--udp-rate", type=int, default=UDP_RATE_TARGET,
                    help="total msgs/s of the paced UDP scenarios (200000)")
    ap.add_argument("--loggen-rate", type=int, default=1_000_000,
                    help="loggen -r over TCP (per connection; 1000000)")
    ap.add_argument("--loggen-udp-rate", type=int, default=100_000,
                    help="loggen -r over UDP (100000)")
    ap.add_argument("--connections", type=int, default=4,
                    help="load generator connections (TCP) or sockets (UDP) (4)")
    ap.add_argument("--threads", type=int, default=1, help="load generator threads (1)")
    ap.add_argument("--flush-size", type=parse_size,
                    help="relay --flush-size (default: the relay's, 4M)")
    ap.add_argument("--flush-interval", default="0.2",
                    help="relay --flush-interval in seconds (0.2: the tail after the last "
                    "message counts in the wall time)")
    ap.add_argument("--relay-arg", action="append", default=[],
                    help="one more relay argument, repeatable")
    ap.add_argument("--journal", choices=("on", "off", "both"), default="on",
                    help="the relay's message journal: on (default, as operators run it), off "
                    "(--no-journal), or both: every scenario with it, then without it")
    ap.add_argument("--peer", action="append", default=[], metavar="NAME=COMMAND",
                    help="also run this relay command under the same load and accounting, "
                    "repeatable; placeholders {port} {protocol} {out} {workdir} {level} {cert} "
                    "{key} "
                    "(bench/README.md, 'Another relay in the same table')")
    ap.add_argument("--peer-scenario", action="append", default=[],
                    metavar="NAME=SCENARIO[,SCENARIO...]",
                    help="the scenarios whose load peer NAME gets (default tcp-octet-l1); "
                    "the peer must listen for that transport on {port}")
    ap.add_argument("--seed", type=int, default=1,
                    help="load generator --seed: the same bytes in every run (1)")
    ap.add_argument("--reader-coalesce-us", type=int, default=500,
                    help="kinesyslog_udp_reader --coalesce-us: after a read that emptied the "
                    "socket, wait this long, as the relay does (500)")
    ap.add_argument("--scrape-every", type=float, default=0,
                    help="serve --prometheus-port and GET /metrics every this many seconds "
                         "during the run, as Prometheus would (0: no endpoint)")
    ap.add_argument("--settle", type=float, default=10.0,
                    help="stop waiting when nothing new was delivered for this long (10 s)")
    ap.add_argument("--rmem-max", type=int, default=8 * MIB,
                    help="raise net.core.rmem_max to this for UDP scenarios (8388608, "
                    "what the relay asks for)")
    ap.add_argument("--build-dir", default=str(REPO / "build" / "release"))
    ap.add_argument("--relay", help="relay binary (default BUILD/kinesyslog)")
    ap.add_argument("--loadgen", help="load generator (default BUILD/kinesyslog_loadgen)")
    ap.add_argument("--yardstick", help="yardstick (default BUILD/kinesyslog_yardstick)")
    ap.add_argument("--udp-reader",
                    help="UDP yardstick (default BUILD/kinesyslog_udp_reader)")
    ap.add_argument("--workdir", help="where relay spool and output go (default $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep each scenario's work directory")
    ap.add_argument("--update-readme", action="store_true",
                    help="replace the results block of bench/README.md with this run's")
    ap.add_argument("--quota", action="store_true",
                    help="run the quota scenario instead (bench/quota.py): the Firehose "
                    "stand-in with a quota per stream, offered 3x one stream's quota")
    ap.add_argument("--quota-seconds", type=float, default=60.0,
                    help="how long the quota scenario offers its load (60 s)")
    ap.add_argument("--quota-streams", type=int, default=3,
                    help="streams of the quota scenario's second run (3)")
    ap.add_argument("--quota-bytes", type=parse_size, default=MIB,
                    help="each stream's quota in bytes/s (1M)")
    ap.add_argument("--quota-latency-ms", type=float, default=50.0,
                    help="the stand-in's round trip in the quota scenario (50 ms)")
    args = ap.parse_args()

    if args.quota:
        import quota  # noqa: E402 (bench/quota.py, beside this file)

        harness = Harness(args)
        for tool in (harness.relay_bin, harness.loadgen_bin):
            if not tool.exists():
                log(f"not built: {tool} (scripts/build.sh kinesyslog kinesyslog_loadgen)")
                return 2
        out = Path(args.out or REPO / "bench" / "results")
        out.mkdir(parents=True, exist_ok=True)
        m = machine_description()
        machine_line = (f"{m['cpus']} CPUs ({m['model']}), {m['memory']} RAM, Linux "
                        f"{m['kernel']}, Debian {m['debian']}; load average before the run "
                        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        if args.settle == 10.0:
            args.settle = 30.0  # a throttled stream delivers slowly, not never
        return quota.main(args, harness.relay_bin, harness.loadgen_bin, Tally, machine_line,
                          out)

    known = scenarios(args)
    if args.list:
        for name, sc in known.items():
            mark = "default" if name in DEFAULT_FULL else "optional"
            print(f"{name:20} {mark:8} {sc.sender} {sc.transport} level {sc.level} "
                  f"workers {sc.workers} count {sc.count:,} rate {sc.rate or 'unlimited'}")
        return 0
    if args.scenarios == "all":
        names = list(known)
    elif args.scenarios == "none":
        names = []  # only --peer rows
    elif args.scenarios:
        names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    else:
        names = DEFAULT_SMOKE if args.smoke else DEFAULT_FULL
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if "--no-journal" in args.relay_arg:
        ap.error("use --journal off (or both) instead of --relay-arg=--no-journal")
    journals = {"on": [True], "off": [False], "both": [True, False]}[args.journal]
    chosen = [replace(known[n], journal=j) for n in names for j in journals]
    harness = Harness(args)
    try:
        chosen += peer_scenarios(args, known, harness.relay_bin)
    except ValueError as e:
        ap.error(str(e))

    out = Path(args.out or (REPO / "build" / "bench-smoke" if args.smoke
                            else REPO / "bench" / "results"))
    out.mkdir(parents=True, exist_ok=True)

    missing_tools = []
    if not harness.relay_bin.exists():
        missing_tools.append(str(harness.relay_bin))
    if any(s.sender == "loadgen" for s in chosen) and not harness.loadgen_bin.exists():
        missing_tools.append(str(harness.loadgen_bin))
    if any(s.stream == "udp" for s in chosen) and not harness.reader_bin.exists():
        missing_tools.append(str(harness.reader_bin))
    if missing_tools:
        log("not built: " + ", ".join(missing_tools) + " (scripts/build.sh kinesyslog "
            "kinesyslog_loadgen kinesyslog_yardstick kinesyslog_udp_reader)")
        return 2
    if any(s.sender == "loggen" for s in chosen) and not shutil.which("loggen"):
        log("loggen (syslog-ng-core) not installed: skipping the loggen scenarios")
        chosen = [s for s in chosen if s.sender != "loggen"]

    # SIGTERM ends the run like Ctrl-C: children are killed and rmem_max restored.
    def on_term(_sig, _frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)

    machine = machine_description()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    machine_line = (f"{machine['cpus']} CPUs ({machine['model']}), {machine['memory']} RAM, "
                    f"Linux {machine['kernel']}, Debian {machine['debian']}")
    results = []
    rmem = RmemMax(args.rmem_max if any(s.stream == "udp" for s in chosen) else 0)
    started = time.monotonic()
    try:
        with rmem:
            for sc in chosen:
                log(f"{sc.label}: {sc.count:,} messages, {sc.sender} over {sc.transport}, "
                    f"level {sc.level}"
                    + (f", peer {sc.peer_command}" if sc.peer else f", {sc.workers} workers")
                    + (f", paced at {sc.rate:,}/s" if sc.rate else ""))
                r = harness.run(sc)
                results.append(r)
                log(f"  sent {r.sent:,} delivered {r.delivered:,} missing {r.missing:,} "
                    f"dup {r.duplicated:,} in {r.wall_seconds:.2f} s "
                    f"({r.msgs_per_second:,.0f} msgs/s)" + (f"  ERROR {r.error}" if r.error
                                                             else ""))
                if r.reader:
                    log(f"  UDP reader: {int(r.reader['datagrams']):,} of "
                        f"{r.sender_datagrams or r.sent:,} datagrams, "
                        f"{float(r.reader['cpu_seconds']):.3f} CPU s, "
                        f"{int(r.reader['calls']):,} recvmmsg calls, kernel drops "
                        f"{r.reader.get('kernel_drops', '?')}")
    except KeyboardInterrupt:
        harness.kill_children()
        log("interrupted")
        return 130
    elapsed = time.monotonic() - started

    table = text_table(results)
    target_rows = targets(results, args)
    flush_note = (f"flush size {args.flush_size}" if args.flush_size
                  else "flush size 4 MiB (default)")
    journal_note = {"on": "journal on (default)", "off": "journal off (--no-journal)",
                    "both": "each scenario with the journal on, then off"}[args.journal]
    header = (f"machine: {machine_line}\n"
              f"relay: flush interval {args.flush_interval} s, {flush_note}, {journal_note}; "
              f"target {args.target}; load generator: {args.connections} connections/sockets, "
              f"threads {args.threads}, {args.size}-byte messages, seed {args.seed}\n"
              f"load average before the run: {' '.join(load_before)}\n")
    if any(s.stream == "udp" for s in chosen):
        header += (f"udp: {rmem.note}; UDP yardstick: kinesyslog_udp_reader, recvmmsg 32 a call, "
                   f"--coalesce-us {args.reader_coalesce_us}\n")
    for name, command in dict((s.peer, s.peer_command) for s in chosen if s.peer).items():
        header += f"peer {name}: {command}\n"
    print()
    print(header)
    print(table)
    print()
    if target_rows:
        print("Performance targets (docs/design.md)"
              + (" (smoke run: too short to be meaningful)" if args.smoke else ""))
        print(targets_text(target_rows))
        print()
    for line in notes_lines(results):
        print(line)

    csv_path = out / "results.csv"
    write_csv(csv_path, results)
    png = write_plot(out, results, f"kinesyslog: {args.size}-byte syslog messages over TCP "
                     f"(octet counting), {machine['cpus']} CPUs, {time.strftime('%Y-%m-%d')}")
    notes = notes_lines(results)
    (out / "results.txt").write_text(header + "\n" + table + "\n\n" + targets_text(target_rows)
                                     + "\n" + "".join(f"\n{line}" for line in notes)
                                     + ("\n" if notes else ""))
    print(f"wrote {csv_path}" + (f" and {png}" if png else "") + f" in {elapsed:.0f} s")

    if args.update_readme:
        block = (f"Measured {time.strftime('%Y-%m-%d')} with `/usr/bin/python3 bench/harness.py "
                 f"{' '.join(sys.argv[1:])}`\n\n"
                 + "".join(f"- {line}\n" for line in header.strip().splitlines()) + "\n"
                 + markdown_table(results) + "\n\n"
                 + "".join(f"- {line}\n" for line in notes) + ("\n" if notes else "")
                 + "| scenario | target | measured | |\n| --- | --- | ---: | --- |\n"
                 + "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in target_rows)
                 + ("\n\n![msgs/s and CPU per message against workers](results/plot.png)"
                    if png else ""))
        update_readme(REPO / "bench" / "README.md", block)

    if any(r.error for r in results):
        return 2
    if any(r.failed for r in results):
        return 1
    if args.smoke:
        problems = smoke_problems(results)
        for problem in problems:
            print(f"smoke: FAIL {problem}")
        if problems:
            return 1
    return 0


def peer_scenarios(args, known, relay_bin):
    """The --peer rows: one per peer and scenario of --peer-scenario (tcp-octet-l1 unless
    given). --smoke without --peer runs our own relay as the peer "self". Raises ValueError
    for a malformed option."""
    peer_specs = [peers.parse_assignment(text, "--peer") for text in args.peer]
    if args.smoke and not peer_specs:
        name, template = SMOKE_PEER
        peer_specs = [(name, template.replace("{relay}", shlex.quote(str(relay_bin))))]
    names = [name for name, _command in peer_specs]
    if len(set(names)) != len(names):
        raise ValueError("--peer: each peer needs its own NAME")
    wanted = {}
    for text in args.peer_scenario:
        name, value = peers.parse_assignment(text, "--peer-scenario")
        if name not in names:
            raise ValueError(f"--peer-scenario {text!r}: no --peer named {name}")
        wanted[name] = [v.strip() for v in value.split(",") if v.strip()]
    rows = []
    for name, command in peer_specs:
        peers.expand_command(command, {k: "x" for k in peers.PLACEHOLDERS})  # check it now
        for scenario in wanted.get(name, ["tcp-octet-l1"]):
            if scenario not in known:
                raise ValueError(f"--peer-scenario: unknown scenario {scenario}")
            if known[scenario].sender != "loadgen":
                raise ValueError(f"--peer-scenario: {scenario} is not our load generator's; "
                                 "a peer's messages are counted by their run=ID seq=N")
            rows.append(replace(known[scenario], peer=name, peer_command=command, sweep=False))
    return rows


def smoke_problems(results):
    """What --smoke checks beyond loss (so that CI notices when a part of the harness stops
    working): every UDP row's reader received every datagram sent; every row of our relay's
    output, the --peer rows running it included, has a compression share; at least one peer
    row ran."""
    problems = []
    for r in results:
        sc = r.scenario
        if sc.stream == "udp" and int(r.reader.get("datagrams", -1)) != r.sender_datagrams:
            problems.append(f"{sc.label}: the UDP reader received "
                            f"{r.reader.get('datagrams', 'nothing')} of {r.sender_datagrams} "
                            "datagrams")
        if r.records_format and not r.has_share:
            problems.append(f"{sc.label}: no compression share measured")
        if sc.peer and r.delivered != r.sent:
            problems.append(f"{sc.label}: the peer delivered {r.delivered} of {r.sent}")
    if not any(r.scenario.peer for r in results):
        problems.append("no --peer row ran")
    return problems


if __name__ == "__main__":
    sys.exit(main())
