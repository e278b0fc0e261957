#!/usr/bin/env bash
# Throughput and p99 latency of one authgate on the embedded defaults (SQLite, limits and
# idempotency in the process) beside one on PostgreSQL + Redis, and two on PostgreSQL + Redis
# (what runs behind a load balancer) beside one. Loopback only; everything started (nginx
# upstream, PostgreSQL, Redis, gateways) is stopped.
#
#   scripts/bench-instances.sh
#   NKEYS=10000 DURATION=20 scripts/bench-instances.sh
#   APPS=1000 scripts/bench-instances.sh     # the keys spread over 1,000 applications
#
# Every gateway routes / to the anchor kit's nginx upstream with its limiter on (60,000,000 a
# minute per application: it counts, in Redis for the shared ones, but never refuses). wrk sends
# NKEYS keys of APPS applications (1 unless set) in turn (the kit's rotate.lua): 2 threads and
# 64 connections against one instance, 1 thread and 32 connections against each of two at once
# (their req/s summed, the worse p99 kept), after a 3 s warm-up that also fills the credential
# caches.
# Everything shares this machine's CPUs, the servers included, so two instances cannot do more
# work than one here; the row shows what sharing state costs, not how far it scales.
#
# Needs nginx-light, wrk, curl, postgresql and redis-server (installed here when missing and
# running as root).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench-common.sh
. "$ROOT/scripts/bench-common.sh"
KIT="${BENCH_KIT:-$ROOT/../shared/bench}"
NKEYS="${NKEYS:-1000}"
APPS="${APPS:-1}"
DURATION="${DURATION:-10}"
UPSTREAM_PORT=9501
unset RATE_LIMIT_RPM RATE_LIMIT_BURST

[ -f "$KIT/rotate.lua" ] || { echo "bench-instances: no anchor kit at $KIT" >&2; exit 1; }
bench_install_tools postgresql redis-server
# shellcheck source=servers.sh
. "$ROOT/scripts/servers.sh"
BIN="$(bench_build)"
cargo build --release -p authgate-ops --example seed_keys --quiet
SEED="$ROOT/target/release/examples/seed_keys"
bench_workdir instances
trap 'stop_servers; bench_cleanup' EXIT
start_postgres
start_redis
bench_kit_start "$WORK" "$KIT" "$UPSTREAM_PORT" 0 unused upstream

# gateway NAME PORT STORE_URL [STATE]: configures DIR=$WORK/NAME, a gateway on PORT.
gateway() {
  local dir="$WORK/$1"
  mkdir -p "$dir"
  bench_authgate_config "$dir" "$2" "$UPSTREAM_PORT"
  sed -i "s|^url = .*|url = \"$3\"|" "$dir/authgate.toml"
  if [ -n "${4:-}" ]; then
    printf '[state]\nbackend = "redis"\nredis_url = "%s"\n' "$4" >> "$dir/authgate.toml"
  fi
}
serve() {
  RATE_LIMIT_RPM=60000000 "$BIN" --config "$WORK/$1/authgate.toml" serve >"$WORK/$1/serve.log" 2>&1 &
  PIDS+=("$!")
  bench_wait_healthy "$2"
}

gateway embedded 9504 "sqlite://$WORK/embedded/authgate.db"
"$SEED" "sqlite://$WORK/embedded/authgate.db" "$APPS" $((NKEYS / APPS)) > "$WORK/embedded.keys"
gateway shared-1 9506 "$pg_url" "$redis_url"
gateway shared-2 9508 "$pg_url" "$redis_url"
"$SEED" "$pg_url" "$APPS" $((NKEYS / APPS)) > "$WORK/shared.keys"
serve embedded 9504
serve shared-1 9506
serve shared-2 9508

# load KEYS PORT...: req/s summed and the worst p99 of wrk against each PORT at once.
load() {
  local keys="$1" port threads connections i=0 wrks=()
  shift
  threads=$((2 / $#)) connections=$((64 / $#))
  for port in "$@"; do
    wrk -t"$threads" -c"$connections" -d3s -s "$KIT/rotate.lua" "http://127.0.0.1:$port/" \
      -- "$keys" >/dev/null &
    wrks+=("$!")
  done
  wait "${wrks[@]}"
  wrks=()
  for port in "$@"; do
    wrk -t"$threads" -c"$connections" -d"${DURATION}s" --latency -s "$KIT/rotate.lua" \
      "http://127.0.0.1:$port/" -- "$keys" > "$WORK/wrk.$((i++))" &
    wrks+=("$!")
  done
  wait "${wrks[@]}"
  # wrk prints p99 as 850.00us, 1.23ms or 1.02s.
  cat "$WORK"/wrk.* | awk '
    /Requests\/sec/ { rps += $2 }
    $1 == "99%" {
      ms = $2 + 0
      if ($2 ~ /us$/) ms /= 1000; else if ($2 !~ /ms$/) ms *= 1000
      if (ms > p99) p99 = ms
    }
    /Non-2xx/ { bad += $NF }
    END { printf "%.0f | %.2f | %d |\n", rps, p99, bad }'
  rm -f "$WORK"/wrk.*
}

echo "| gateways | req/s | p99 (ms) | non-2xx |"
echo "|---|---:|---:|---:|"
echo "| one, embedded (SQLite, in-process state) | $(load "$WORK/embedded.keys" 9504)"
echo "| one, PostgreSQL + Redis | $(load "$WORK/shared.keys" 9506)"
echo "| two, PostgreSQL + Redis | $(load "$WORK/shared.keys" 9506 9508)"
