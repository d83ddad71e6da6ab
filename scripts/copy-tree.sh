#!/usr/bin/env bash
# Copies the repository's files (tracked, and untracked but not ignored, so that a working tree
# with new files copies whole) into DIR, which must exist: what a clean clone of this tree holds.
#   scripts/copy-tree.sh DIR
set -euo pipefail
dest=$(realpath "$1")
cd "$(dirname "$0")/.."
# --ignore-failed-read: a tracked file deleted in a working tree is listed but not there.
git ls-files -z -co --exclude-standard |
  tar --null --files-from=- --ignore-failed-read -cf - | tar -xf - -C "$dest"
