#!/usr/bin/env bash
# Builds and runs the micro benchmarks (bench/*_bench.cc, Google Benchmark) in one binary.
# Arguments go to the binary, e.g.:
#   scripts/microbench.sh --benchmark_filter=Framer --benchmark_min_time=0.05
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh kinesyslog_microbench
exec build/release/kinesyslog_microbench "$@"
