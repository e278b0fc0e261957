#!/usr/bin/env bash
# Resident memory per active key: authgate's RSS after every key of a set has been verified once
# (and so is held in the credential cache), beside its RSS with one key in use, for each key count
# and worker count. Loopback only; everything started is stopped.
#
#   scripts/bench-memory.sh                                # 100,000 and 1,000,000 keys; 2 and 8 workers
#   COUNTS="10000" WORKERS="2" scripts/bench-memory.sh
#   KEYS_PER_APP=1 COUNTS=100000 scripts/bench-memory.sh  # every key of an application of its own
#   BINARY=/path/to/authgate scripts/bench-memory.sh  # another binary than this tree's
#
# The keys (KEYS_PER_APP, 1,000 unless set, per application, applications with the viewer role)
# are made by the `seed_keys` example through the operations layer, for the largest count, in a
# store kept in SEED_DIR (on tmpfs where there is one) and reused by later runs: seeding a
# million took 16 minutes here. Smaller counts use the first keys of that set. The cache TTL is
# an hour, so no entry expires during a run. wrk sends each key once
# (scripts/bench-memory.lua) and is stopped once the cache has counted as many misses (its
# threads stop sending, but wrk itself would wait out its whole duration).
#
# Needs nginx-light, wrk and curl (installed here when missing and running as root).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench-common.sh
. "$ROOT/scripts/bench-common.sh"
KIT="${BENCH_KIT:-$ROOT/../shared/bench}"
COUNTS="${COUNTS:-100000 1000000}"
WORKERS="${WORKERS:-2 8}"
KEYS_PER_APP="${KEYS_PER_APP:-1000}"
UPSTREAM_PORT=9401 AUTHGATE_PORT=9404
unset RATE_LIMIT_RPM RATE_LIMIT_BURST

[ -f "$KIT/upstream.conf.in" ] || { echo "bench-memory: no anchor kit at $KIT" >&2; exit 1; }
bench_install_tools
BIN="${BINARY:-$(bench_build)}"
cargo build --release -p authgate-ops --example seed_keys --quiet
SEED="$ROOT/target/release/examples/seed_keys"
SEED_DIR="${SEED_DIR:-$( [ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/authgate-bench-memory-$KEYS_PER_APP}"
bench_workdir memory
bench_kit_start "$WORK" "$KIT" "$UPSTREAM_PORT" 0 unused upstream

largest=0
for count in $COUNTS; do [ "$count" -gt "$largest" ] && largest=$count; done
bench_authgate_config "$WORK" "$AUTHGATE_PORT" "$UPSTREAM_PORT"
sed -i "s|^url = .*|url = \"sqlite://$SEED_DIR/authgate.db\"|" "$WORK/authgate.toml"
printf '[auth]\ncache_ttl = "1h"\n' >> "$WORK/authgate.toml"
if [ "$(cat "$SEED_DIR/all.keys" 2>/dev/null | wc -l)" -lt "$largest" ]; then
  echo "seeding $largest keys in $SEED_DIR ..." >&2
  rm -rf "$SEED_DIR" && mkdir -p "$SEED_DIR"
  "$SEED" "sqlite://$SEED_DIR/authgate.db" $(((largest + KEYS_PER_APP - 1) / KEYS_PER_APP)) \
    "$KEYS_PER_APP" > "$SEED_DIR/all.keys"
fi

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
misses() {
  curl -s "http://127.0.0.1:$((AUTHGATE_PORT + 1))/metrics" \
    | awk '/^authgate_credential_cache_lookups_total\{result="miss"\}/ { print int($2) }'
}

echo "| keys | workers | RSS with one key (MiB) | RSS with every key (MiB) | per key (bytes) |"
echo "|---:|---:|---:|---:|---:|"
for count in $COUNTS; do
  head -n "$count" "$SEED_DIR/all.keys" > "$WORK/keys"
  for workers in $WORKERS; do
    sed -i "/^workers = /d; s/^\[server\]$/[server]\nworkers = $workers/" "$WORK/authgate.toml"
    RATE_LIMIT_RPM=60000000 "$BIN" --config "$WORK/authgate.toml" serve >"$WORK/serve.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    bench_wait_healthy "$AUTHGATE_PORT"
    url="http://127.0.0.1:$AUTHGATE_PORT/"
    head -n 1 "$WORK/keys" > "$WORK/one.key"
    wrk -t1 -c1 -d2s -H "X-API-Key: $(cat "$WORK/one.key")" "$url" >/dev/null
    before=$(rss_kib "$pid")
    wrk -t2 -c16 -d600s -s "$ROOT/scripts/bench-memory.lua" "$url" -- "$WORK/keys" 2 >/dev/null &
    wrk=$!
    while [ "$(misses)" -lt "$count" ]; do
      kill -0 "$wrk" 2>/dev/null || { echo "bench-memory: only $(misses) of $count keys were looked up" >&2; exit 1; }
      sleep 1
    done
    sleep 1
    kill "$wrk"; wait "$wrk" 2>/dev/null || true
    after=$(rss_kib "$pid")
    printf '| %s | %s | %.0f | %.0f | %.0f |\n' "$count" "$workers" "$(echo "$before / 1024" | bc -l)" \
      "$(echo "$after / 1024" | bc -l)" "$(echo "($after - $before) * 1024 / $count" | bc -l)"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  done
done
