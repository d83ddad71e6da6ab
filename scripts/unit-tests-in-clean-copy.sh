#!/usr/bin/env bash
# The unit tests from a copy of the repository in a fresh temporary directory with nothing
# beside it, as on a clean clone: a test that reads anything outside the repository fails here.
# Copies the tracked and untracked-but-not-ignored files (so a clean clone and a working tree
# both work), builds with the flags of scripts/build.sh and runs ctest. With ccache the
# compiles are hits on the cache of build/release (same relative paths under CCACHE_BASEDIR).
set -euo pipefail
cd "$(dirname "$0")/.."

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
copy="$root/kinesyslog"
mkdir "$copy"
scripts/copy-tree.sh "$copy"

launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$copy" CCACHE_NOHASHDIR=true
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$copy" -B "$copy/build/release" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKINESYSLOG_WERROR=ON -DKINESYSLOG_BENCH=OFF "${launcher[@]}" >/dev/null
ninja -C "$copy/build/release" -j2 >"$root/build.log" || { tail -n 60 "$root/build.log"; exit 1; }
# Run from the temporary directory: nothing relative to the original tree is reachable.
cd "$root"
CTEST_OUTPUT_ON_FAILURE=1 ctest --test-dir "$copy/build/release" -j2 --timeout 300
