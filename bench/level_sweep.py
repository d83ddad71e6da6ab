#!/usr/bin/env python3
"""Compression level sweep: the numbers behind the default --compression-level.

Runs the relay on 127.0.0.1 with a fresh output directory, sends it MESSAGES syslog messages
from the load generator (the harness's sender and message mix), then compresses the delivered
records' JSON once at every libdeflate level with kinesyslog_yardstick, and with zlib level 9
(the Python seed's choice; Python's zlib module) for reference. Prints one table: level,
compressed bytes per message, ratio, CPU seconds per million messages and MB/s of JSON per
core. CPU time, not wall time, so a busy machine disturbs it less (caches still suffer).

    /usr/bin/python3 bench/level_sweep.py [--count 500000] [--out bench/results/levels.txt]
"""

import argparse
import gzip
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import free_port, gzip_members, machine_description  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build" / "release"



def deliver(work, count, size):
    out, spool = work / "out", work / "spool"
    out.mkdir()
    spool.mkdir()
    port = free_port()
    relay = subprocess.Popen(
        [str(BUILD / "kinesyslog"), "listen", "--address", "127.0.0.1", "--tcp-port", str(port),
         "--output-dir", str(out), "--spool-dir", str(spool), "--flush-interval", "0.2",
         "--compression-level", "1"],
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            line = relay.stderr.readline()
            if "ready:" in line:
                break
            if not line or time.monotonic() > deadline:
                sys.exit(f"relay did not start: {line}")
        subprocess.run([str(BUILD / "kinesyslog_loadgen"), "--port", str(port), "--transport",
                        "tcp", "--count", str(count), "--size", str(size), "--connections", "4"],
                       check=True, stdout=subprocess.DEVNULL)
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.communicate(timeout=60)
    return sorted(p for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))



def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=500_000)
    ap.add_argument("--size", type=int, default=200)
    ap.add_argument("--out", help="also write the table to this file")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kinesyslog-levels-"))
    try:
        files = deliver(work, args.count, args.size)
        listing = work / "objects.txt"
        listing.write_text("".join(f"{f}\n" for f in files))
        rows = []
        for level in range(1, 13):
            answer = subprocess.run(
                [str(BUILD / "kinesyslog_yardstick"), "--level", str(level), "--list",
                 str(listing)], check=True, capture_output=True, text=True).stdout
            r = json.loads(answer)
            rows.append((f"libdeflate {level}", r["json_bytes"], r["compressed_bytes"],
                         r["cpu_seconds"]))
        records = [r for f in files for r in gzip_members(f.read_bytes())]
        start = time.process_time()
        compressed = sum(len(gzip.compress(r, compresslevel=9)) for r in records)
        rows.append(("zlib 9 (seed)", sum(len(r) for r in records), compressed,
                     time.process_time() - start))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    machine = machine_description()
    lines = [f"{args.count:,} messages of {args.size} bytes from kinesyslog_loadgen, "
             f"{machine['cpus']} CPUs ({machine['model']})", "",
             "| compressor | B/msg | ratio | CPU s/M msgs | MB/s JSON per core |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, json_bytes, out_bytes, cpu in rows:
        lines.append(f"| {name} | {out_bytes / args.count:.1f} | {out_bytes / json_bytes:.3f} | "
                     f"{cpu / args.count * 1e6:.2f} | {json_bytes / cpu / 1e6:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)



if __name__ == "__main__":
    main()
