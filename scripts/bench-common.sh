# Shared by the bench scripts (sourced, not run): the tools they need and authgate's
# configuration for a load run.

# Installs nginx-light, wrk and curl when missing (as root, from the distribution).
bench_install_tools() {
  local missing=()
  [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
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
