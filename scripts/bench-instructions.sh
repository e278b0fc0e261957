#!/usr/bin/env bash
# Instructions per proxied request, counted by valgrind's callgrind: the same on every run, so a
# change of 1% shows, where CPU time and req/s on a shared machine move by 10% from run to run.
# It counts work, not time (cache misses, cores fighting over a cache line and the kernel do not
# show), so judge a change by both this and scripts/bench-cpu.sh. Loopback only.
#
#   scripts/bench-instructions.sh                                   # this tree's authgate
#   BASELINE=/path/to/older/authgate scripts/bench-instructions.sh  # and another binary
#
# Each binary serves one key from a store of its own (an older binary cannot open a store a newer
# one migrated) in front of the anchor kit's nginx upstream, under callgrind with counting off;
# wrk (1 thread, 8 connections) warms it up for 2 s; then counting is on for 4 s with no load
# (the background: change polling, timers) and for DURATION seconds of wrk, and the busy count
# less the background, scaled to the same time, is divided by the requests wrk made. Without
# that subtraction the background, spread over however many requests the machine managed, moves
# the result by 1-3%.
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

bench_kit_start "$WORK" "$KIT" "$UPSTREAM_PORT" 0 unused upstream

# count LABEL BINARY: instructions per request of BINARY, the background subtracted.
count() {
  local dir="$WORK/$1" out="$WORK/$1/callgrind"
  mkdir -p "$dir"
  bench_authgate_config "$dir" "$AUTHGATE_PORT" "$UPSTREAM_PORT"
  local key
  key="$(bench_one_key "$2" "$dir")"
  RATE_LIMIT_RPM=60000000 valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$out" "$2" --config "$dir/authgate.toml" serve >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$AUTHGATE_PORT/healthz" && break; sleep 0.2
  done
  local url="http://127.0.0.1:$AUTHGATE_PORT/"
  wrk -t1 -c8 -d2s -H "X-API-Key: $key" "$url" >/dev/null
  # measure COMMAND...: the instructions counted while COMMAND runs (its output in $dir/out).
  measure() {
    callgrind_control -z "$pid" >/dev/null 2>&1
    callgrind_control -i on "$pid" >/dev/null 2>&1
    "$@" > "$dir/out"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    awk '/^totals:/ {ir += $2} END {print ir}' "$out".*
    rm -f "$out".*
  }
  local idle busy requests
  idle="$(measure sleep 4)"
  busy="$(measure wrk -t1 -c8 -d"${DURATION}s" -H "X-API-Key: $key" "$url")"
  requests="$(awk '/requests in/ {print $1}' "$dir/out")"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  awk -v l="$1" -v i="$idle" -v b="$busy" -v n="$requests" -v d="$DURATION" \
    'BEGIN { printf "  %-10s %7.0f instructions/request over %d requests (%.0f before the background)\n",
      l, (b - i * d / 4) / n, n, b / n }'
}

echo "instructions per proxied request (callgrind), one key, limiter on"
count authgate "$BIN"
if [ -n "${BASELINE:-}" ]; then count baseline "$BASELINE"; fi
