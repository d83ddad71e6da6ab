#!/usr/bin/env bash
# Developer shortcut: compile and run one unit test against only the sources named, without the
# whole CMake build (handy while other parts of the tree are being edited).
#   scripts/quick-test.sh src/proto/syslog/stream_framer_test.cc src/proto/syslog/stream_framer.cc
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/quick/$(basename "$1" .cc)
mkdir -p build/quick
g++ -std=c++20 -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined -Isrc \
  -DASIO_STANDALONE -DASIO_DISABLE_STD_ALIGNED_ALLOC -DKINESYSLOG_VERSION='"dev"' "$@" -o "$out" \
  -lgtest_main -lgtest -lgmock -ldeflate -lsimdjson -lspdlog -lfmt -ldate-tz -lssl -lcrypto \
  -lcurl -pthread
"$out" "${GTEST_ARGS[@]:-}"
