#!/usr/bin/env bash
# Where the relay's CPU goes under load: runs build/release/kinesyslog on 127.0.0.1 with a fresh
# spool and output directory, samples it with perf while kinesyslog_loadgen sends, and prints the
# share of each library and the top symbols (libdeflate's unnamed internals left out: they are
# compression). The profiles in bench/README.md "Where the CPU goes" were taken this way.
#
#   bench/profile.sh [--transport tcp|udp|gelf-tcp|gelf-udp|tls] [--level L] [--count N]
#                    [--rate MSGS_PER_S] [--call-graph] [--out FILE] [-- RELAY_ARGS...]
#
# Needs perf (Debian: apt-get install linux-perf; not installed by scripts/setup.sh, the tests do
# not need it) and root or kernel.perf_event_paranoid <= 1. Samples the cpu-clock software event:
# virtual machines often expose no hardware counters. --call-graph records kernel call chains
# (frame pointers), enough to split kernel time by system call.
set -euo pipefail
cd "$(dirname "$0")/.."
transport=tcp level=1 count=3000000 rate=0 callgraph=() out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --transport) transport=$2; shift 2 ;;
    --level) level=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --call-graph) callgraph=(-g); shift ;;
    --out) out=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "bench/profile.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null || { echo "bench/profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 2; }
relay=build/release/kinesyslog loadgen=build/release/kinesyslog_loadgen
[[ -x $relay && -x $loadgen ]] || { echo "bench/profile.sh: run scripts/build.sh first" >&2; exit 2; }

work=$(mktemp -d)
trap 'kill "${relay_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
out=${out:-$work/perf.data}
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
listen=(--tcp-port 0 --udp-port 0)
gelf=()
case "$transport" in
  tcp) listen=(--tcp-port "$port" --udp-port 0) ;;
  udp) listen=(--udp-port "$port" --tcp-port 0) ;;
  gelf-tcp) listen=(--tcp-port "$port" --udp-port 0) gelf=(--gelf) ;;
  gelf-udp) listen=(--udp-port "$port" --tcp-port 0) gelf=(--gelf) ;;
  tls)
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
      -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
    listen=(--tls-port "$port" --tcp-port 0 --udp-port 0 --cert "$work/cert.pem" --key "$work/key.pem") ;;
  *) echo "bench/profile.sh: unknown transport $transport" >&2; exit 2 ;;
esac
mkdir -p "$work/out"
"$relay" listen --address 127.0.0.1 --spool-dir "$work/spool" --output-dir "$work/out" \
  --compression-level "$level" --flush-interval 0.2 "${listen[@]}" "${gelf[@]}" "$@" \
  >"$work/relay.log" 2>&1 &
relay_pid=$!
for _ in $(seq 100); do grep -q "ready" "$work/relay.log" 2>/dev/null && break; sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$relay_pid/stat"; }
before=$(cpu)
perf record "${callgraph[@]}" -F 2000 -e cpu-clock -p "$relay_pid" -o "$out" >"$work/perf.log" 2>&1 &
perf_pid=$!
sleep 0.3
"$loadgen" --port "$port" --transport "$transport" --count "$count" --rate "$rate" \
  --connections 4 >"$work/loadgen.json"
sleep 2  # the last batches: flushed after 0.2 s, then compressed and spooled
after=$(cpu)
kill -INT "$perf_pid"
wait "$perf_pid" || true
echo "load generator: $(cat "$work/loadgen.json")"
echo "relay CPU seconds during the load: $(awk -v a="$before" -v b="$after" 'BEGIN {printf "%.2f", (b - a) / 100}')"
echo "by library:"
perf report -i "$out" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -6
echo "top symbols (compression's unnamed internals left out):"
perf report -i "$out" --no-children --sort dso,sym --stdio 2>/dev/null | grep -v '^#' |
  grep -v '^$' | grep -v libdeflate | head -25
if [[ ${#callgraph[@]} -gt 0 ]]; then
  echo "system calls and faults (kernel time with its callees):"
  perf report -i "$out" --children --sort sym --stdio -g none 2>/dev/null |
    grep -E '\[k\] (__x64_sys_|ksys_|exc_page_fault|handle_softirqs)' | head -15
fi
