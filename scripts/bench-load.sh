#!/usr/bin/env bash
# Whole-gateway load run: authgate beside nginx doing the same key check, in the same run, with
# the shared anchor kit (../shared/bench/run.sh). Loopback only; everything started is stopped.
#
#   scripts/bench-load.sh                 # 1,000 authgate keys, the kit's defaults
#   NKEYS=10000 DURATION=10 scripts/bench-load.sh
#   BENCH_RPM=0 scripts/bench-load.sh   # authgate without its rate limiter
#
# Like the nginx gateway's limit_req, authgate's limiter runs but never refuses: the default
# limit is 60,000,000 a minute (1,000,000 a second) per application.
#
# Needs nginx-light, wrk and curl (installed here when missing and running as root).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench-common.sh
. "$ROOT/scripts/bench-common.sh"
KIT="${BENCH_KIT:-$ROOT/../shared/bench}"
NKEYS="${NKEYS:-1000}"
PORT="${AUTHGATE_BENCH_PORT:-8090}"
LIMIT_RPM="${BENCH_RPM:-60000000}"
# The CLI calls below must not pick up a limit from the caller's environment.
unset RATE_LIMIT_RPM RATE_LIMIT_BURST

[ -x "$KIT/run.sh" ] || { echo "bench-load: no anchor kit at $KIT" >&2; exit 1; }
bench_install_tools

BIN="$(bench_build)"
bench_workdir load

bench_authgate_config "$WORK" "$PORT" 9001

APP="$("$BIN" --config "$WORK/authgate.toml" apps create bench)"
echo "creating $NKEYS keys for $APP ..." >&2
for _ in $(seq "$NKEYS"); do
  "$BIN" --config "$WORK/authgate.toml" keys create --app "$APP" --output json \
    | sed -n 's/.*"secret": "\(.*\)".*/\1/p'
done > "$WORK/keys.txt"

LIMIT_ENV=""
if [ "$LIMIT_RPM" != 0 ]; then LIMIT_ENV="RATE_LIMIT_RPM=$LIMIT_RPM"; fi
GATEWAY_URL="http://127.0.0.1:$PORT/" \
GATEWAY_CMD="env $LIMIT_ENV $BIN --config $WORK/authgate.toml serve" \
KEYS_FILE="$WORK/keys.txt" \
INVALID_KEY="sk_live_1111111111111111111111111111" \
  "$KIT/run.sh"
