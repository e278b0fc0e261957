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

# A throwaway PostgreSQL server and Redis for this run, stopped and removed on exit, failed or not.
# shellcheck source=servers.sh
. scripts/servers.sh
trap stop_servers EXIT
start_postgres
start_redis

# Every test, the store's and the shared state's conformance suites on every backend among them;
# then the integration suite again as several instances run it: each gateway on a fresh
# PostgreSQL database instead of a SQLite file, and its rate limits and idempotency records in
# Redis instead of in the process. (`--workspace`, as above: the same features for every crate,
# so nothing is built again.)
export TEST_POSTGRES_URL="$pg_url" TEST_REDIS_URL="$redis_url"
cargo test --workspace --all-targets "$@"
TEST_STORE=postgres TEST_STATE=redis cargo test --workspace --test it "$@"
