#!/usr/bin/env bash
# Runs the libFuzzer targets in tests/fuzz/.
#
#   scripts/fuzz.sh [--smoke] [--jobs N] [SECONDS] [TARGET...]
#
# Without --smoke (the campaign): each target runs SECONDS (default 1200) from its committed
# corpus tests/fuzz/corpus/<target>/ (and tests/fuzz/<target>.dict when present); the inputs that
# add coverage are merged back into that corpus, minimised (named seeds are always kept), and the
# table under "Campaign results" in tests/fuzz/README.md gets the target's row: seconds, CPU
# seconds, executions, corpus size, edges and crashes. A crash leaves its input under
# build/fuzz/crashes/<target>/ and makes the script exit 1 once every target has run.
#
# With --smoke (CI): each target runs SECONDS (default 10) over a temporary copy of its corpus;
# the repository is not changed. Exit 1 on the first crash.
#
# TARGET names are the file names without _fuzz.cc (stream_framer, proxy_header, ...); none means
# every target. --jobs N runs N targets at a time (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKINESYSLOG_FUZZ=ON -DKINESYSLOG_BENCH=OFF "${launcher[@]}" >/dev/null
ninja -C build/fuzz -j2
exec /usr/bin/python3 scripts/fuzz_campaign.py "$@"
