#!/usr/bin/env bash
# The unit tests from a copy of the repository with nothing beside it, as on a clean clone: a
# test that reads anything outside the repository fails here.
#   scripts/unit-tests-in-clean-copy.sh [--sanitize=address|thread]
# Copies the tracked and untracked-but-not-ignored files (so a clean clone and a working tree
# both work) into a fresh temporary directory, builds there with the copy's scripts/build.sh (the
# same flags; the option picks the build type) and runs ctest from outside the original tree.
# With ccache the compiles are hits on the cache of the same build type in this tree (same
# relative paths under CCACHE_BASEDIR).
# KINESYSLOG_CLEAN_COPY=DIR copies into DIR (an empty directory) and keeps it, so that the
# caller can use what was built there (scripts/test.sh runs the integration suite against the
# copy's AddressSanitizer relay); otherwise the copy is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  --sanitize=address) dir=build/asan ;;
  --sanitize=thread) dir=build/tsan ;;
  "") dir=build/release ;;
  *) echo "usage: $0 [--sanitize=address|thread]" >&2; exit 2 ;;
esac

if [ -n "${KINESYSLOG_CLEAN_COPY:-}" ]; then
  root=$(realpath "$KINESYSLOG_CLEAN_COPY")
else
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
fi
copy="$root/kinesyslog"
mkdir "$copy"
scripts/copy-tree.sh "$copy"

"$copy/scripts/build.sh" "$@" >"$root/build.log" 2>&1 || { tail -n 60 "$root/build.log"; exit 1; }
# Run from the temporary directory: nothing relative to the original tree is reachable.
cd "$root"
CTEST_OUTPUT_ON_FAILURE=1 ctest --test-dir "$copy/$dir" -j2 --timeout 600
