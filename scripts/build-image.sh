#!/usr/bin/env bash
# Builds the kinesyslog container image (deploy/Containerfile, FROM scratch) from the build
# output and writes it as a docker-archive that `docker load -i` and `podman load -i` read:
#
#   scripts/build-image.sh          # -> build/image/kinesyslog-image.tar in the repository
#
# Options:
#   -o FILE       write the archive here instead
#   --binary F    the relay to put in the image (default: build/release/kinesyslog, built first)
#   --storage D   keep the image in the buildah vfs store D (D/root, D/run) as kinesyslog:VERSION
#                 instead of a temporary store deleted on exit (the image test inspects it there)
#   --no-archive  only build into the store (with --storage)
#
# The root filesystem is staged from this machine: the stripped relay, exactly the shared
# libraries `ldd` names (with the dynamic loader), the CA bundle libcurl was built to read, the
# zoneinfo tree, a passwd/group with the user kinesyslog (10514), nsswitch.conf and hosts, the
# spool directory, and busybox's static wget as the health-check client (one file). Why each:
# docs/operations.md, "Container image". Needs root (file ownership in the layer) and buildah.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

readonly IMAGE_UID=10514 IMAGE_GID=10514 SPOOL=/var/spool/kinesyslog
archive="$repo/build/image/kinesyslog-image.tar"
binary=""
storage=""
write_archive=1
while [ $# -gt 0 ]; do
  case "$1" in
    -o) archive="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --storage) storage="$2"; shift 2 ;;
    --no-archive) write_archive=0; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
# Paths given are the caller's; from here on the script works in the repository.
archive=$(realpath -m "$archive")
if [ -n "$binary" ]; then binary=$(realpath -m "$binary"); fi
if [ -n "$storage" ]; then storage=$(realpath -m "$storage"); fi
cd "$repo"
fail() { echo "build-image.sh: $2" >&2; exit "$1"; }
if [ "$write_archive" = 0 ] && [ -z "$storage" ]; then
  fail 2 "--no-archive needs --storage (else the image is built and thrown away)"
fi
if [ "$(id -u)" -ne 0 ]; then
  fail 77 "run as root: the image's files must belong to root and its spool to $IMAGE_UID"
fi
for tool in buildah ldd strip tar; do
  command -v "$tool" >/dev/null || fail 69 "$tool not found (scripts/setup.sh installs it)"
done
readonly BUSYBOX=/bin/busybox  # Debian's busybox-static: one statically linked file
if [[ "$(LC_ALL=C ldd "$BUSYBOX" 2>&1 || true)" != *"not a dynamic executable"* ]]; then
  fail 69 "$BUSYBOX is missing or not statically linked (busybox-static)"
fi
# The CA bundle libcurl was built to read (CURLOPT_CAINFO's default; the relay sets no other).
CA_BUNDLE=$(curl-config --ca 2>/dev/null || true)
readonly CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$CA_BUNDLE" ] || fail 69 "$CA_BUNDLE missing (ca-certificates)"
[ -d /usr/share/zoneinfo ] || fail 69 "/usr/share/zoneinfo missing (tzdata)"

if [ -z "$binary" ]; then
  scripts/build.sh kinesyslog >/dev/null
  binary=build/release/kinesyslog
fi
[ -x "$binary" ] || fail 66 "$binary is not an executable"
version=$("$binary" --version | awk '{print $2}')
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)

work=$(mktemp -d "${TMPDIR:-/tmp}/kinesyslog-image.XXXXXX")
store="$storage"
cleanup() {
  if [ -z "$storage" ] && [ -n "$store" ]; then
    buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs rmi --all --force \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$store" ]; then store="$work/store"; fi
rootfs="$work/context/rootfs"
mkdir -p "$rootfs"

# --- the root filesystem -----------------------------------------------------------------------
# Copies FILE (following symlinks) to the same path in the image, under its real directory.
stage() {
  local src="$1" dir
  dir=$(realpath "$(dirname "$src")")
  mkdir -p "$rootfs$dir"
  cp -L --preserve=mode "$src" "$rootfs$dir/$(basename "$src")"
}

mkdir -p "$rootfs/usr/bin"
strip --strip-unneeded -o "$rootfs/usr/bin/kinesyslog" "$binary"
chmod 0755 "$rootfs/usr/bin/kinesyslog"
# ldd prints "name => /path (addr)" for libraries and "/path (addr)" for the loader.
libs=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
[ -n "$libs" ] || fail 1 "ldd found no libraries in $binary"
if ldd "$binary" | grep 'not found' >&2; then
  fail 1 "$binary needs libraries this machine lacks"
fi
for lib in $libs; do stage "$lib"; done

# The health-check client. busybox picks the applet from its name, so as /usr/bin/wget it is
# wget and nothing else (no shell in the image).
cp "$BUSYBOX" "$rootfs/usr/bin/wget"
chmod 0755 "$rootfs/usr/bin/wget"

stage "$CA_BUNDLE"
mkdir -p "$rootfs/usr/share"
cp -a /usr/share/zoneinfo "$rootfs/usr/share/zoneinfo"
# zoneinfo/localtime points at the machine's /etc/localtime; the image's zone is UTC.
rm -f "$rootfs/usr/share/zoneinfo/localtime"
mkdir -p "$rootfs/etc"
ln -s /usr/share/zoneinfo/Etc/UTC "$rootfs/etc/localtime"

cat >"$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
kinesyslog:x:$IMAGE_UID:$IMAGE_GID:kinesyslog relay:/home/kinesyslog:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<EOF
root:x:0:
kinesyslog:x:$IMAGE_GID:
nogroup:x:65534:
EOF
# glibc 2.34+ has the files and dns NSS modules built into libc.so.6: name resolution needs only
# this file and the resolv.conf/hosts the container runtime mounts.
cat >"$rootfs/etc/nsswitch.conf" <<EOF
passwd: files
group: files
hosts: files dns
EOF
cat >"$rootfs/etc/hosts" <<EOF
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF
# Debian's merged /usr: /lib, /lib64, /bin and /sbin are symlinks into /usr; the ELF interpreter
# path (/lib64/ld-linux-x86-64.so.2) and ldd's paths go through them, so the image has those
# whose target it holds.
for d in bin sbin lib lib64; do
  target=$(readlink "/$d" || true)
  if [ -n "$target" ] && [ -e "$rootfs/$target" ]; then ln -s "$target" "$rootfs/$d"; fi
done
# HOME of the user: read-only; mount AWS config at /home/kinesyslog/.aws if it is used.
mkdir -p "$rootfs/home/kinesyslog" "$rootfs$SPOOL"
chown "$IMAGE_UID:$IMAGE_GID" "$rootfs$SPOOL"
chmod 0750 "$rootfs$SPOOL"
chown -R root:root "$rootfs/usr" "$rootfs/etc" "$rootfs/home"
chmod -R go-w "$rootfs/usr" "$rootfs/etc" "$rootfs/home"

# --- the image ---------------------------------------------------------------------------------
# One tar, ADDed: unlike COPY (which makes every file root's), ADD keeps the owners and modes
# of a local archive's entries, so the spool stays the user's.
tar -C "$rootfs" --numeric-owner --sort=name -cf "$work/context/rootfs.tar" .
rm -rf "$rootfs"
cp deploy/Containerfile "$work/context/Containerfile"
bah=(buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs)
tag="localhost/kinesyslog:$version"
# --format docker: HEALTHCHECK is a Docker-format field; the OCI format would drop it.
"${bah[@]}" bud --isolation chroot --format docker --layers=false --quiet \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  -f "$work/context/Containerfile" -t "$tag" "$work/context" >/dev/null
if [ "$write_archive" = 1 ]; then
  mkdir -p "$(dirname "$archive")"
  rm -f "$archive"
  "${bah[@]}" push --quiet "$tag" "docker-archive:$archive:$tag" >/dev/null
  echo "image $tag written to $archive ($(du -h "$archive" | cut -f1))"
  echo "load it with: docker load -i $archive (or podman load -i)"
else
  echo "image $tag in $store"
fi
