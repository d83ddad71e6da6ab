#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): the release build and its unit tests; the unit
# tests under AddressSanitizer + UndefinedBehaviorSanitizer (built in a clean copy of the
# repository, so a test that reads outside the repository fails) and under ThreadSanitizer; a fuzz
# smoke run of every fuzz target over its corpus; the benchmark harness's tests and smoke run;
# and the integration tests against real senders three times: with the release relay, the ASan+UBSan
# relay and the TSan relay (a sanitizer report fails the test; tests/integration/conftest.py).
#
# Every build goes through ccache (scripts/build.sh). The integration suites mostly wait on
# sockets and timers, so each runs in the background while the next build compiles; their output
# is printed when they end. KINESYSLOG_TEST_SERIAL=1 runs every stage in order instead.
# At the end (also after a failure) a table gives each stage's wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
export CTEST_OUTPUT_ON_FAILURE=1
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true

logs=build/test-logs
rm -rf "$logs"
mkdir -p "$logs"
work=$(mktemp -d)
suite_started=$SECONDS
stages=()      # in the order they started
declare -A pids=()

# Stage timings: each stage writes "<seconds> <status>" to $logs/<stage>.time when it ends.
report() {
  local name seconds status
  printf '\n=== stage timings (wall seconds; background stages overlap the ones after them)\n'
  printf '%-34s %8s  %s\n' stage seconds status
  for name in "${stages[@]}"; do
    if [ -f "$logs/$name.time" ]; then
      read -r seconds status <"$logs/$name.time"
    else
      seconds=-
      status="not finished"
    fi
    printf '%-34s %8s  %s\n' "$name" "$seconds" "$status"
  done
  printf '%-34s %8s\n' total $((SECONDS - suite_started))
  # The tail of CI's output is often all a reader gets: name what failed again, here.
  for name in "${stages[@]}"; do
    [ -f "$logs/$name.log" ] && [ -f "$logs/$name.time" ] || continue
    read -r seconds status <"$logs/$name.time"
    [ "$status" = ok ] && continue
    printf '\n=== what failed in: %s\n' "$name"
    grep -E '^(FAILED|ERROR) |^[[:space:]]+[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception)\)|SUMMARY: [A-Za-z]+Sanitizer|^[a-z0-9_]+: CRASH |^WARNING: ThreadSanitizer' \
      "$logs/$name.log" | head -40 || true
  done
}
finish() {
  local code=$?
  for name in "${!pids[@]}"; do kill -- "-${pids[$name]}" 2>/dev/null || true; done
  report
  rm -rf "$work"
  exit "$code"
}
trap finish EXIT

# run STAGE COMMAND...: in the foreground, output as it comes.
run() {
  local name=$1 started=$SECONDS code=0
  shift
  stages+=("$name")
  printf '\n=== %s\n' "$name"
  "$@" > >(tee "$logs/$name.log") 2>&1 || code=$?
  echo "$((SECONDS - started)) $([ "$code" -eq 0 ] && echo ok || echo "FAILED ($code)")" \
    >"$logs/$name.time"
  return "$code"
}

# start STAGE COMMAND...: in the background (in order with KINESYSLOG_TEST_SERIAL=1), output to
# $logs/STAGE.log; `wait_for STAGE` prints it and fails if the stage did.
start() {
  local name=$1
  shift
  if [ "${KINESYSLOG_TEST_SERIAL:-0}" = 1 ]; then
    run "$name" "$@"
    return
  fi
  stages+=("$name")
  printf '\n=== %s (started in the background; output when it ends)\n' "$name"
  set -m  # its own process group, so that a failure elsewhere can stop all of it
  (
    started=$SECONDS
    code=0
    "$@" >"$logs/$name.log" 2>&1 || code=$?
    echo "$((SECONDS - started)) $([ "$code" -eq 0 ] && echo ok || echo "FAILED ($code)")" \
      >"$logs/$name.time"
    exit "$code"
  ) &
  pids[$name]=$!
  set +m
}
wait_for() {
  local name=$1 code=0
  [ -n "${pids[$name]:-}" ] || return 0
  wait "${pids[$name]}" || code=$?
  unset "pids[$name]"
  printf '\n=== %s (ended)\n' "$name"
  cat "$logs/$name.log"
  return "$code"
}

integration() {  # integration RELAY: the pytest suite against that relay binary
  KINESYSLOG_BIN="$1" /usr/bin/python3 -m pytest tests/integration -q -rfE -p no:cacheprovider
}

# Stage functions return a failure explicitly: run and start call them in an `||` list, where
# set -e does not stop a function at its first failing command.
fuzz_smoke() {
  scripts/fuzz.sh --smoke "${KINESYSLOG_FUZZ_SECONDS:-10}"
}

tsan_unit_tests() {
  TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:second_deadlock_stack=1" \
    ctest --test-dir build/tsan -j2 --timeout 600
}

asan_unit_tests_in_clean_copy() {
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 KINESYSLOG_CLEAN_COPY="$work" \
    scripts/unit-tests-in-clean-copy.sh --sanitize=address
}

# The harness's own tests (its parsing helpers, --peer rows against small peers that deliver or
# lose messages), then its smoke run: 5 scenarios, the UDP reader, our relay as a --peer.
harness_smoke() {
  /usr/bin/python3 -m pytest bench/harness_test.py -q -rfE -p no:cacheprovider &&
    /usr/bin/python3 bench/harness.py --smoke
}

# The TSan integration suite is the longest stage: it starts as early as its build allows.
run "release build (-Werror)" scripts/build.sh
run "help matches README" /usr/bin/python3 scripts/check-help-matches-readme.py
run "function length, tests beside code" /usr/bin/python3 scripts/check-function-length.py
run "unit tests (release)" ctest --test-dir build/release -j2 --timeout 300
run "harness smoke" harness_smoke
start "integration (release relay)" integration "$PWD/build/release/kinesyslog"
run "TSan build" scripts/build.sh --sanitize=thread
start "integration (TSan relay)" integration "$PWD/build/tsan/kinesyslog"
run "TSan unit tests" tsan_unit_tests
run "ASan+UBSan build, unit tests (clean copy)" asan_unit_tests_in_clean_copy
wait_for "integration (release relay)"
start "integration (ASan+UBSan relay)" integration "$work/kinesyslog/build/asan/kinesyslog"
run "fuzz build and smoke (${KINESYSLOG_FUZZ_SECONDS:-10} s per target)" fuzz_smoke
wait_for "integration (TSan relay)"
wait_for "integration (ASan+UBSan relay)"
