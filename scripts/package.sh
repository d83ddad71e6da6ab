#!/usr/bin/env bash
# Builds the Debian package (kinesyslog_<version>_<arch>.deb, and its -dbgsym package holding
# the debug symbols) into build/package/, then runs lintian on it (fails on an error).
#   scripts/package.sh [--no-lintian]
# The version is the project's (CMakeLists.txt). dpkg-buildpackage runs in a copy of the
# repository in a temporary directory (it writes beside the source tree), with the project's own
# build (debian/rules): with ccache, a package built after scripts/build.sh only links.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
lintian=yes
[ "${1:-}" = "--no-lintian" ] && lintian=no  # the caller runs lintian itself
version=$(sed -n 's/^project(kinesyslog VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || { echo "package.sh: no project version in CMakeLists.txt" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
copy="$work/kinesyslog-$version"
mkdir "$copy"
scripts/copy-tree.sh "$copy"

# A native package: its version is the project's, without a Debian revision.
cat >"$copy/debian/changelog" <<CHANGELOG
kinesyslog ($version) unstable; urgency=medium

  * kinesyslog $version, built from the repository by scripts/package.sh.

 -- $(sed -n 's/^Maintainer: //p' debian/control)  $(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")
CHANGELOG

(cd "$copy" && dpkg-buildpackage -b --no-sign >"$work/build.log" 2>&1) ||
  { tail -n 60 "$work/build.log"; exit 1; }

mkdir -p build/package
rm -f build/package/kinesyslog*
mv "$work"/kinesyslog*_"$version"_*.deb "$work"/kinesyslog_"$version"_*.{buildinfo,changes} \
  build/package/
deb=$(ls "$repo"/build/package/kinesyslog_"$version"_*.deb)
echo "built $deb ($(du -k "$deb" | cut -f1) KiB)"
ls build/package/*dbgsym* >/dev/null

if [ "$lintian" = yes ]; then
  # Errors fail the build; warnings and notes are printed.
  lintian --fail-on error --display-info build/package/kinesyslog_"$version"_*.changes
fi
