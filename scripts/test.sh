#!/usr/bin/env bash
# Runs every test authgate has: unit tests, and the integration tests that start the real binary
# in front of a real upstream process. Installs what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
# The tests run Python from the system (/usr/bin/python3), where apt installs its libraries.
[ -x /usr/bin/python3 ] || missing+=(python3)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)   # forward-auth tests put a real nginx in front
# The OAuth tests drive authgate from Python: PyJWT (with cryptography) verifies its tokens,
# Authlib (over requests) is the OAuth client library.
/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null || missing+=(python3-jwt python3-cryptography)
/usr/bin/python3 -c 'import authlib, requests' 2>/dev/null || missing+=(python3-authlib python3-requests)
# schemathesis checks the admin API against its OpenAPI document; it comes from PyPI, into a
# virtual environment of the tests' own.
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
# The web UI's test drives headless Chromium through chromedriver (WebDriver), and checks its
# pages with axe-core, which comes from npm.
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v npm >/dev/null || missing+=(npm)
# The store's conformance tests run against a real PostgreSQL server, started below. Debian
# keeps its programs under /usr/lib/postgresql/<version>/bin, off PATH.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
# Shared rate limits and idempotency records are tested against a real Redis, started below (and
# some tests start and stop one of their own).
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "scripts/test.sh: please install: ${missing[*]}" >&2
    exit 1
  fi
fi

SCHEMATHESIS_VERSION=4.32.5
venv=target/test-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

AXE_VERSION=4.14.1
node_dir=target/test-node
if ! grep -qs "\"version\": \"$AXE_VERSION\"" "$node_dir/node_modules/axe-core/package.json"; then
  mkdir -p "$node_dir"
  npm install --silent --no-audit --no-fund --prefix "$node_dir" "axe-core@$AXE_VERSION"
fi

# A throwaway PostgreSQL server for this run (the newest installed), in a fresh directory: trust
# authentication, on 127.0.0.1 only, on a free port, its socket in that directory; stopped and
# removed on exit, failed or not. Nothing it holds needs to survive a crash, so it skips
# syncing to disk. Tests run in parallel, each with a pool of its own: hence more connections
# than the default 100. Its default collation is linguistic (ICU), as on a production server, so
# that the tests show listings still sort bytewise, as SQLite does.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_dir=$(mktemp -d /tmp/authgate-postgres.XXXXXX)
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root: root runs it as the user Debian's package created.
  chown postgres: "$pg_dir"
  as_postgres() { runuser -u postgres -- "$@"; }
else
  as_postgres() { "$@"; }
fi
stop_servers() {
  as_postgres "$pg_bin/pg_ctl" stop --pgdata="$pg_dir/data" --mode=immediate --silent 2>/dev/null || true
  rm -rf "$pg_dir"
  if [ -n "${redis_dir:-}" ]; then
    [ -f "$redis_dir/redis.pid" ] && kill "$(cat "$redis_dir/redis.pid")" 2>/dev/null || true
    rm -rf "$redis_dir"
  fi
}
trap stop_servers EXIT
pg_user=$(as_postgres id -un)
pg_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_postgres "$pg_bin/initdb" --pgdata="$pg_dir/data" --username="$pg_user" --auth=trust \
  --encoding=UTF8 --locale=C --locale-provider=icu --icu-locale=und --no-sync >/dev/null
pg_options="-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$pg_dir"
pg_options+=" -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
if ! as_postgres "$pg_bin/pg_ctl" start --pgdata="$pg_dir/data" --log="$pg_dir/server.log" \
  --options="$pg_options" --wait --silent; then
  cat "$pg_dir/server.log" >&2
  exit 1
fi
pg_url="postgres://$pg_user@127.0.0.1:$pg_port/postgres"

# A throwaway Redis for this run, the same way: loopback, a free port, nothing saved to disk.
redis_dir=$(mktemp -d /tmp/authgate-redis.XXXXXX)
redis_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$redis_dir" \
  --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log"
for _ in $(seq 50); do
  [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done

# Every test, the store's and the shared state's conformance suites on every backend among them;
# then the integration suite again as several instances run it: each gateway on a fresh
# PostgreSQL database instead of a SQLite file, and its rate limits and idempotency records in
# Redis instead of in the process. (`--workspace`, as above: the same features for every crate,
# so nothing is built again.)
export TEST_POSTGRES_URL="$pg_url" TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
cargo test --workspace --all-targets "$@"
TEST_STORE=postgres TEST_STATE=redis cargo test --workspace --test it "$@"
