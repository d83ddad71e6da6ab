#!/usr/bin/env bash
# Builds the relay (release with debug info) into build/release. Warnings are errors.
#   scripts/build.sh [TARGET...]                      build/release
#   scripts/build.sh --sanitize=address [TARGET...]   build/asan: AddressSanitizer + UBSan
#   scripts/build.sh --sanitize=thread [TARGET...]    build/tsan: ThreadSanitizer
# A sanitizer build is Debug (asserts on) at -O1: fast enough to run the integration suite
# against its relay, and the stacks still read well. Each build holds the unit tests and the
# relay, so one build serves both the unit and the integration tests.
# With ccache (scripts/setup.sh installs it) compiles are cached under paths relative to the
# source root, so another copy of the tree (scripts/unit-tests-in-clean-copy.sh) hits the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/release
config=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
case "${1:-}" in
  --sanitize=address)
    dir=build/asan
    config=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DKINESYSLOG_SANITIZE=address
      -DKINESYSLOG_BENCH=OFF)
    shift ;;
  --sanitize=thread)
    dir=build/tsan
    config=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" -DKINESYSLOG_SANITIZE=thread
      -DKINESYSLOG_BENCH=OFF)
    shift ;;
  --sanitize=*)
    echo "scripts/build.sh: unknown $1 (address or thread)" >&2
    exit 2 ;;
esac
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$dir" -G Ninja "${config[@]}" -DKINESYSLOG_WERROR=ON "${launcher[@]}" >/dev/null
ninja -C "$dir" -j2 "$@"
