#!/usr/bin/env bash
# CPU per request of authgate beside nginx doing the same key check: what bounds throughput when
# the load generator, the upstream and the gateway share the CPUs, and much steadier than req/s
# on a shared machine. Loopback only; everything started is stopped.
#
#   scripts/bench-cpu.sh                                 # 3 rounds
#   ROUNDS=5 scripts/bench-cpu.sh
#   BASELINE=/path/to/older/authgate scripts/bench-cpu.sh   # alternate with another binary
#
# Each round runs wrk (2 threads, 64 connections, 2 s warm-up, then DURATION seconds) against the
# anchor kit's nginx gateway, then authgate (then the baseline), and reads the user and system
# CPU time of the gateway's processes from /proc before and after.
#
# Needs nginx-light, wrk and curl (installed here when missing and running as root).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench-common.sh
. "$ROOT/scripts/bench-common.sh"
KIT="${BENCH_KIT:-$ROOT/../shared/bench}"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-8}"
UPSTREAM_PORT=9201 NGINX_PORT=9202 AUTHGATE_PORT=9204
unset RATE_LIMIT_RPM RATE_LIMIT_BURST

[ -f "$KIT/gateway.conf.in" ] || { echo "bench-cpu: no anchor kit at $KIT" >&2; exit 1; }
bench_install_tools

BIN="$(bench_build)"
bench_workdir cpu

bench_authgate_config "$WORK" "$AUTHGATE_PORT" "$UPSTREAM_PORT"
KEY="$(bench_one_key "$BIN" "$WORK")"
# The kit's upstream and nginx gateway, with the one key authgate issued.
bench_kit_start "$WORK" "$KIT" "$UPSTREAM_PORT" "$NGINX_PORT" "$KEY" upstream gateway

# Sum of user and system ticks of these processes (all their threads).
ticks() { local user=0 system=0 pid; for pid in "$@"; do
  read -r u s < <(awk '{print $14, $15}' "/proc/$pid/stat"); user=$((user + u)); system=$((system + s))
done; echo "$user $system"; }

# measure LABEL URL PID...: CPU µs per request under load.
measure() {
  local label="$1" url="$2"; shift 2
  wrk -t2 -c64 -d2s -H "X-API-Key: $KEY" "$url" >/dev/null
  read -r u0 s0 < <(ticks "$@")
  local out; out="$(wrk -t2 -c64 -d"${DURATION}s" -H "X-API-Key: $KEY" "$url")"
  read -r u1 s1 < <(ticks "$@")
  local requests rps; requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  rps="$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")"
  awk -v l="$label" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$requests" -v r="$rps" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "  %-10s %6.1f µs/request (user %5.1f, system %5.1f)  %7d req/s\n",
      l, (u + s) / hz * 1e6 / n, u / hz * 1e6 / n, s / hz * 1e6 / n, r }'
}

# run_authgate LABEL BINARY: starts it, measures it, stops it.
run_authgate() {
  RATE_LIMIT_RPM=60000000 "$2" --config "$WORK/authgate.toml" serve 2>/dev/null &
  local pid=$!
  bench_wait_healthy "$AUTHGATE_PORT"
  measure "$1" "http://127.0.0.1:$AUTHGATE_PORT/" "$pid"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

NGINX_WORKERS=($(pgrep -P "$(cat "$WORK/gateway.pid")"))
echo "CPU per request, wrk -t2 -c64 -d${DURATION}s, one key, limiters on, $(nproc) CPUs shared by all"
for round in $(seq "$ROUNDS"); do
  echo "round $round"
  measure nginx "http://127.0.0.1:$NGINX_PORT/" "${NGINX_WORKERS[@]}"
  run_authgate authgate "$BIN"
  if [ -n "${BASELINE:-}" ]; then run_authgate baseline "$BASELINE"; fi
done
