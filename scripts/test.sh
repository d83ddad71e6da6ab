#!/usr/bin/env bash
# The whole test suite: unit tests (release, again from a clean copy of the repository, and under
# ASan+UBSan), a fuzz smoke run of every parser's fuzz target over its seed corpus, and the
# integration tests against real senders.
set -euo pipefail
cd "$(dirname "$0")/.."
export CTEST_OUTPUT_ON_FAILURE=1

step() { printf '\n=== %s\n' "$*"; }

step "release build (-Werror)"
scripts/build.sh

step "listen --help and the README's option table name the same options"
/usr/bin/python3 scripts/check-help-matches-readme.py

step "unit tests"
ctest --test-dir build/release -j2 --timeout 300

step "unit tests from a copy of the repository with nothing beside it (as on a clean clone)"
scripts/unit-tests-in-clean-copy.sh

step "unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DKINESYSLOG_WERROR=ON \
  -DKINESYSLOG_SANITIZE=ON -DKINESYSLOG_BENCH=OFF >/dev/null
ninja -C build/asan -j2
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan -j2 --timeout 600

step "fuzz smoke (libFuzzer, ${KINESYSLOG_FUZZ_SECONDS:=10} s per target)"
CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKINESYSLOG_FUZZ=ON -DKINESYSLOG_BENCH=OFF >/dev/null
ninja -C build/fuzz -j2
for fuzzer in build/fuzz/*_fuzz; do
  name=$(basename "$fuzzer" _fuzz)
  work=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$name/." "$work/"
  "$fuzzer" -max_total_time="$KINESYSLOG_FUZZ_SECONDS" -print_final_stats=0 "$work" \
    >"build/fuzz/$name.log" 2>&1 || { tail -n 40 "build/fuzz/$name.log"; exit 1; }
  echo "$name: $(ls "$work" | wc -l) corpus inputs after the run, no crash"
  rm -rf "$work"
done

step "benchmark harness smoke run (not a benchmark: keeps the harness working)"
scripts/build.sh kinesyslog_loadgen kinesyslog_yardstick
/usr/bin/python3 bench/harness.py --smoke

step "integration tests (pytest, real senders; the Debian package built, installed and purged)"
KINESYSLOG_BIN="$PWD/build/release/kinesyslog" /usr/bin/python3 -m pytest tests/integration -q \
  -p no:cacheprovider
