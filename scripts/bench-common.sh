# Shared by the bench scripts (sourced, not run): the tools they need and authgate's
# configuration for a load run.

# bench_install_tools [postgresql] [redis-server]: installs nginx-light, wrk and curl, and the
# servers named, when missing (as root, from the distribution, with one update of its lists).
bench_install_tools() {
  local missing=() server
  [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  for server in "$@"; do
    case "$server" in
      # Debian keeps PostgreSQL's programs under /usr/lib/postgresql/<version>/bin, off PATH.
      postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql) ;;
      *) command -v "$server" >/dev/null || missing+=("$server") ;;
    esac
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
}

# Builds authgate for release (in $ROOT); prints the binary's path.
bench_build() {
  cargo build --release -p authgate --quiet
  echo "$ROOT/target/release/authgate"
}

# bench_authgate_config DIR PORT UPSTREAM_PORT: writes DIR/authgate.toml, a gateway on PORT (admin
# on PORT+1) with its SQLite store in DIR, logging warnings only, routing / to the upstream.
bench_authgate_config() {
  cat > "$1/authgate.toml" <<TOML
[server]
listen = "127.0.0.1:$2"
admin_listen = "127.0.0.1:$(($2 + 1))"
[store]
url = "sqlite://$1/authgate.db"
[log]
level = "warn"
[[routes]]
name = "bench"
path_prefix = "/"
upstream = "http://127.0.0.1:$3"
TOML
}

# bench_one_key BINARY DIR: an application with one key in DIR's store; prints the key's secret.
bench_one_key() {
  local app
  app="$("$1" --config "$2/authgate.toml" apps create bench)"
  "$1" --config "$2/authgate.toml" keys create --app "$app" --output json \
    | sed -n 's/.*"secret": "\(.*\)".*/\1/p'
}

# bench_kit_start DIR KIT UPSTREAM_PORT GATEWAY_PORT KEY NAME...: starts the anchor kit's nginx
# servers NAME (upstream, gateway) from DIR, the gateway accepting KEY; their PIDs are appended
# to the caller's PIDS array.
bench_kit_start() {
  local dir="$1" kit="$2" upstream_port="$3" gateway_port="$4" key="$5" name
  shift 5
  echo "\"$key\" k1;" > "$dir/keys.map"
  for name in "$@"; do
    sed -e "s|@TMP@|$dir|g" -e "s|@UPSTREAM_PORT@|$upstream_port|g" \
        -e "s|@GATEWAY_PORT@|$gateway_port|g" -e "s|@PROXY_PORT@|$((gateway_port + 1))|g" \
        -e "s|@UPSTREAM_WORKERS@|auto|g" -e "s|@GATEWAY_WORKERS@|auto|g" \
        -e "s|@RATE_RPS@|1000000|g" -e "s|@RATE_BURST@|1000000|g" "$kit/$name.conf.in" > "$dir/$name.conf"
    /usr/sbin/nginx -p "$dir" -e "$dir/$name.error.log" -c "$dir/$name.conf" -g 'daemon off;' &
    PIDS+=("$!")
  done
  sleep 1
}

# bench_wait_healthy PORT: waits (up to 5 s) until authgate answers /healthz on PORT; fails if
# it does not.
bench_wait_healthy() {
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return 0; sleep 0.1
  done
  echo "authgate did not answer /healthz on port $1 within 5 s" >&2
  return 1
}

# bench_workdir NAME: makes WORK, a fresh directory, and on exit stops every process in PIDS
# and removes WORK.
bench_workdir() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/authgate-$1.XXXXXX")"
  chmod 755 "$WORK"
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
