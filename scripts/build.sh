#!/usr/bin/env bash
# Builds the relay (release with debug info) into build/release. Warnings are errors.
# With ccache (scripts/setup.sh installs it) compiles are cached under paths relative to the
# source root, so another copy of the tree (scripts/unit-tests-in-clean-copy.sh) hits the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKINESYSLOG_WERROR=ON \
  "${launcher[@]}" >/dev/null
ninja -C build/release -j2 "$@"
