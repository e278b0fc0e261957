# Throwaway PostgreSQL and Redis servers for the tests and benchmarks (sourced, not run). Each
# lives in a fresh directory, listens on 127.0.0.1 only on a free port, and is stopped and
# removed by stop_servers (set it as the EXIT trap).

# The newest installed PostgreSQL's programs (Debian keeps them off PATH).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_postgres: a server with trust authentication, its socket in its directory; sets pg_url.
# Nothing it holds needs to survive a crash, so it skips syncing to disk. Tests run in parallel,
# each with a pool of its own: hence more connections than the default 100. Its default
# collation is linguistic (ICU), as on a production server, so that the tests show listings
# still sort bytewise, as SQLite does.
start_postgres() {
  pg_dir=$(mktemp -d /tmp/authgate-postgres.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root: root runs it as the user Debian's package created.
    chown postgres: "$pg_dir"
    as_postgres() { runuser -u postgres -- "$@"; }
  else
    as_postgres() { "$@"; }
  fi
  local user port options
  user=$(as_postgres id -un)
  port=$(free_port)
  as_postgres "$pg_bin/initdb" --pgdata="$pg_dir/data" --username="$user" --auth=trust \
    --encoding=UTF8 --locale=C --locale-provider=icu --icu-locale=und --no-sync >/dev/null
  options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$pg_dir"
  options+=" -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if ! as_postgres "$pg_bin/pg_ctl" start --pgdata="$pg_dir/data" --log="$pg_dir/server.log" \
    --options="$options" --wait --silent; then
    cat "$pg_dir/server.log" >&2
    return 1
  fi
  pg_url="postgres://$user@127.0.0.1:$port/postgres"
}

# start_redis: a server that saves nothing to disk; sets redis_url.
start_redis() {
  redis_dir=$(mktemp -d /tmp/authgate-redis.XXXXXX)
  local port
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$redis_dir" \
    --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log"
  for _ in $(seq 50); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
    sleep 0.1
  done
  redis_url="redis://127.0.0.1:$port"
}

stop_servers() {
  if [ -n "${pg_dir:-}" ]; then
    as_postgres "$pg_bin/pg_ctl" stop --pgdata="$pg_dir/data" --mode=immediate --silent 2>/dev/null || true
    rm -rf "$pg_dir"
  fi
  if [ -n "${redis_dir:-}" ]; then
    [ -f "$redis_dir/redis.pid" ] && kill "$(cat "$redis_dir/redis.pid")" 2>/dev/null || true
    rm -rf "$redis_dir"
  fi
}
