#!/usr/bin/env bash
# Installs every Debian 12 package kinesyslog needs to build, test, fuzz and benchmark.
# Idempotent: safe to run again; apt-get skips what is already installed.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git clang clang-format ccache
  libclang-rt-14-dev
  # libraries (docs/design.md "Dependencies")
  libasio-dev libssl-dev libcurl4-openssl-dev libdeflate-dev libsimdjson-dev
  libcli11-dev libspdlog-dev libfmt-dev libhowardhinnant-date-dev tzdata
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pytest python3-botocore python3-boto3
  bsdutils util-linux openssl haproxy syslog-ng-core python3-graypy gnuplot-nox
  faketime  # libfaketime: the relay's wall clock at New Year's Eve in an integration test
  procps
  # deploy/ manifests (tests/integration/test_deploy_manifests.py parses the Kubernetes and
  # CloudFormation YAML)
  python3-yaml
  # container image (scripts/build-image.sh, tests/integration/test_image.py): buildah builds the
  # FROM scratch image (no container runtime needed); busybox-static's wget is the image's
  # health-check client (it replaces the dynamically linked busybox package, same applets);
  # ca-certificates is the CA bundle the image carries
  buildah busybox-static ca-certificates
  # the Debian package and its service (scripts/package.sh, tests/integration/test_package.py):
  # dpkg-buildpackage and dh build it, help2man writes the man page from --help, lintian checks
  # it, systemd-analyze verifies the unit and rates its exposure, man-db lets verify find the
  # unit's man page, strace lists the system calls the relay makes (checked against the unit's
  # SystemCallFilter)
  dpkg-dev debhelper help2man lintian systemd man-db strace
  # Prometheus and promtool: a real server scrapes the relay's /metrics in the integration
  # tests, and promtool lints the exposition.
  prometheus
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  # --no-install-recommends keeps syslog-ng from pulling a running system logger into CI.
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
