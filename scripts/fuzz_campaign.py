#!/usr/bin/env python3
"""Runs the built libFuzzer targets (build/fuzz/<target>_fuzz); called by scripts/fuzz.sh, which
builds them first and documents the options."""

import argparse
import concurrent.futures
import datetime
import hashlib
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "fuzz"
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
README = ROOT / "tests" / "fuzz" / "README.md"
HEADING = "## Campaign results"
TABLE_BEGIN = "<!-- scripts/fuzz.sh writes the rows below; the text above the table is kept -->"
COLUMNS = ["target", "date (UTC)", "seconds", "CPU s", "executions", "exec/s", "corpus files",
           "corpus KiB", "edges", "crashes"]
# libFuzzer names the inputs it keeps by the SHA-1 of their content; anything else is a seed or a
# regression input a person named, which minimisation must never drop.
GENERATED = re.compile(r"^[0-9a-f]{40}$")
COVERAGE = re.compile(r"cov: (\d+) ft: (\d+)")
_print_lock = threading.Lock()


def say(*args):
    with _print_lock:
        print(*args, flush=True)


def all_targets():
    return sorted(p.name[: -len("_fuzz")] for p in BUILD.glob("*_fuzz") if os.access(p, os.X_OK))


def fuzzer_args(target):
    args = []
    dictionary = ROOT / "tests" / "fuzz" / f"{target}.dict"
    if dictionary.exists():
        args.append(f"-dict={dictionary}")
    return args


def run_child(cmd, log):
    """Runs cmd with output to log; returns (exit code, CPU seconds the child used)."""
    # Children finishing in other threads would mix into RUSAGE_CHILDREN; wait4 gives this
    # child's own usage.
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


def final_stat(log, name):
    match = re.findall(rf"stat::{name}:\s+(\d+)", pathlib.Path(log).read_text(errors="replace"))
    return int(match[-1]) if match else 0


def edges_of(binary, corpus, log):
    """Edges covered by a corpus: libFuzzer's INITED line after loading it without mutating."""
    run_child([str(binary), "-runs=0", str(corpus)], log)
    found = COVERAGE.findall(pathlib.Path(log).read_text(errors="replace"))
    return int(found[-1][0]) if found else 0


def minimise_into_repository(target, binary, work, scratch):
    """Named inputs stay; the generated ones are replaced by the coverage-minimal set of everything
    the run saw (libFuzzer's -merge=1 into a directory that starts with the named inputs)."""
    corpus = CORPUS / target
    corpus.mkdir(parents=True, exist_ok=True)
    merged = scratch / "merged"
    merged.mkdir()
    for f in corpus.iterdir():
        if f.is_file() and not GENERATED.match(f.name):
            shutil.copy2(f, merged / f.name)
    named_digests = {hashlib.sha1(f.read_bytes()).hexdigest() for f in merged.iterdir()}
    code, _ = run_child([str(binary), "-merge=1", str(merged), str(work)], scratch / "merge.log")
    if code != 0:
        raise RuntimeError(f"{target}: merge failed, see {scratch / 'merge.log'}")
    for f in corpus.iterdir():
        if f.is_file() and GENERATED.match(f.name):
            f.unlink()
    for f in merged.iterdir():
        if GENERATED.match(f.name) and f.name not in named_digests:
            shutil.copy2(f, corpus / f.name)


def run_target(target, seconds, smoke):
    binary = BUILD / f"{target}_fuzz"
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=f"fuzz-{target}-"))
    try:
        work = scratch / "corpus"
        shutil.copytree(CORPUS / target, work) if (CORPUS / target).is_dir() else work.mkdir()
        crashes = BUILD / "crashes" / target
        crashes.mkdir(parents=True, exist_ok=True)
        log = BUILD / f"{target}.log"
        cmd = [str(binary), f"-max_total_time={seconds}", "-print_final_stats=1",
               f"-artifact_prefix={crashes}/", *fuzzer_args(target), str(work)]
        started = datetime.datetime.now(datetime.timezone.utc)
        code, cpu = run_child(cmd, log)
        ran = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
        execs = final_stat(log, "number_of_executed_units")
        found = 0 if code == 0 else 1
        if found:
            tail = pathlib.Path(log).read_text(errors="replace").splitlines()[-40:]
            say(f"{target}: CRASH (exit {code}); input under {crashes}/\n  " + "\n  ".join(tail))
        if smoke:
            say(f"{target}: {execs} executions in {seconds} s, "
                f"{sum(1 for _ in work.iterdir())} corpus inputs, {'crash' if found else 'no crash'}")
            return target, None, found
        minimise_into_repository(target, binary, work, scratch)
        files = [f for f in (CORPUS / target).iterdir() if f.is_file()]
        row = {
            "target": target,
            "date (UTC)": started.strftime("%Y-%m-%d %H:%M"),
            "seconds": f"{ran:.0f}",
            "CPU s": f"{cpu:.0f}",
            "executions": f"{execs:,}",
            "exec/s": f"{execs / max(ran, 1):,.0f}",
            "corpus files": str(len(files)),
            "corpus KiB": f"{sum(f.stat().st_size for f in files) / 1024:.1f}",
            "edges": str(edges_of(binary, CORPUS / target, scratch / "edges.log")),
            "crashes": str(found),
        }
        say(f"{target}: " + ", ".join(f"{k} {v}" for k, v in row.items() if k != "target"))
        return target, row, found
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    clang = subprocess.run(["clang++", "--version"], capture_output=True, text=True).stdout
    return (f"{os.cpu_count()} × {model}, {mem:.0f} GiB, Linux {platform.release()}, "
            f"{clang.splitlines()[0] if clang else 'clang'}")


def update_readme(rows):
    text = README.read_text() if README.exists() else "# Fuzz targets\n"
    if HEADING not in text:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n{TABLE_BEGIN}\n"
    head, _, tail = text.partition(HEADING)
    kept, _, table = tail.partition(TABLE_BEGIN)
    old = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == len(COLUMNS) and cells[0] not in ("target", "") and \
                not set(cells[0]) <= set("-: "):
            old[cells[0]] = dict(zip(COLUMNS, cells))
    old.update(rows)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    lines += ["| " + " | ".join(old[t][c] for c in COLUMNS) + " |" for t in sorted(old)]
    lines.append("")
    lines.append(f"Last run on: {machine()}. \"seconds\" is wall time; the machine is shared, "
                 "so \"CPU s\" says how much of it the fuzzer had. Edges: libFuzzer's `cov:` "
                 "over the committed corpus.")
    README.write_text(head + HEADING + kept + TABLE_BEGIN + "\n\n" + "\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("seconds", nargs="?", type=int)
    ap.add_argument("targets", nargs="*")
    args = ap.parse_args()
    seconds = args.seconds if args.seconds is not None else (10 if args.smoke else 1200)
    known = all_targets()
    targets = args.targets or known
    unknown = sorted(set(targets) - set(known))
    if unknown:
        sys.exit(f"fuzz.sh: no such target: {', '.join(unknown)} (known: {', '.join(known)})")
    crashed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_target, t, seconds, args.smoke) for t in targets]
        for fut in concurrent.futures.as_completed(futures):
            target, row, found = fut.result()
            if found:
                crashed.append(target)
                if args.smoke:
                    for f in futures:
                        f.cancel()
            if row:
                update_readme({target: row})
    if crashed:
        sys.exit(f"fuzz.sh: crash in {', '.join(sorted(crashed))}")


if __name__ == "__main__":
    main()
