#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: the same on every run, so a
# change of 1% shows, where CPU time and req/s on a shared machine move by 10% from run to run.
# It counts work, not time (cache misses, cores fighting over a cache line and the kernel do not
# show), so judge a change by both this and scripts/bench-cpu.sh. Loopback only.
#
#   scripts/bench-instructions.sh                                   # this tree's authgate
#   BASELINE=/path/to/older/authgate scripts/bench-instructions.sh  # and another binary
#
# Each binary serves one key in front of the anchor kit's nginx upstream, under callgrind with
# counting off; wrk (1 thread, 8 connections) warms it up for 2 s, then counting is on for
# DURATION seconds of wrk, and the instructions counted are divided by the requests wrk made.
# SHA-256 runs without the CPU's SHA extensions under valgrind: about 3,500 of the count are
# a digest that takes a few hundred instructions natively.
#
# Needs valgrind, nginx-light, wrk and curl (installed here when missing and running as root).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench-common.sh
. "$ROOT/scripts/bench-common.sh"
KIT="${BENCH_KIT:-$ROOT/../shared/bench}"
DURATION="${DURATION:-4}"
UPSTREAM_PORT=9301 AUTHGATE_PORT=9304
unset RATE_LIMIT_RPM RATE_LIMIT_BURST

[ -f "$KIT/upstream.conf.in" ] || { echo "bench-instructions: no anchor kit at $KIT" >&2; exit 1; }
bench_install_tools
command -v valgrind >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind
}

BIN="$(bench_build)"
bench_workdir instructions

bench_authgate_config "$WORK" "$AUTHGATE_PORT" "$UPSTREAM_PORT"
KEY="$(bench_one_key "$BIN" "$WORK")"
bench_kit_start "$WORK" "$KIT" "$UPSTREAM_PORT" 0 "$KEY" upstream

# count LABEL BINARY: instructions per request of BINARY.
count() {
  local out="$WORK/callgrind.$1"
  RATE_LIMIT_RPM=60000000 valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$out" "$2" --config "$WORK/authgate.toml" serve >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$AUTHGATE_PORT/healthz" && break; sleep 0.2
  done
  local url="http://127.0.0.1:$AUTHGATE_PORT/"
  wrk -t1 -c8 -d2s -H "X-API-Key: $KEY" "$url" >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  callgrind_control -i on "$pid" >/dev/null 2>&1
  local requests
  requests="$(wrk -t1 -c8 -d"${DURATION}s" -H "X-API-Key: $KEY" "$url" | awk '/requests in/ {print $1}')"
  callgrind_control -i off "$pid" >/dev/null 2>&1
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  awk -v l="$1" -v n="$requests" '/^totals:/ {ir += $2}
    END { printf "  %-10s %7.0f instructions/request over %d requests\n", l, ir / n, n }' "$out".*
}

echo "instructions per proxied request (callgrind), one key, limiter on"
count authgate "$BIN"
if [ -n "${BASELINE:-}" ]; then count baseline "$BASELINE"; fi
