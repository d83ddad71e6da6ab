#!/usr/bin/env bash
# Builds the relay (release with debug info) into build/release. Warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKINESYSLOG_WERROR=ON \
  >/dev/null
ninja -C build/release -j2 "$@"
