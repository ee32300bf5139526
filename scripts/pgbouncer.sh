#!/usr/bin/env bash
# pgbouncer.sh — the transaction-pooling stand-in for RDS Proxy, for the bench only (part 8;
# `make test` never needs it): a throwaway PostgreSQL cluster limited to 20 connections and
# PgBouncer 1.18 (the Debian 12 package, unpacked without root into .tools/pgbouncer) in front
# of it in `pool_mode = transaction`, both on 127.0.0.1 only.
# Usage: scripts/pgbouncer.sh install|start|stop
#   install  unpacks pgbouncer and libc-ares2 (`apt-get download` + `dpkg -x`) when missing
#   start    install, then initdb + start the small cluster and PgBouncer on free ports; prints
#            the path of .tools/run/pooler.env (export lines: STEEL_POOLER_URL = PgBouncer,
#            STEEL_POOLER_DIRECT_URL = the small server itself, both as the superuser postgres;
#            the functions' role steel_app is created by the bench)
#   stop     stops both (by recorded PID / pg_ctl) and removes the cluster; safe to call twice
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tools/pgbouncer"
RUN="$ROOT/.tools/run"
BIN="$DIR/root/usr/sbin/pgbouncer"
LIBS="$DIR/root/usr/lib/x86_64-linux-gnu"
ENV_FILE="$RUN/pooler.env"
# The server's limit; PgBouncer keeps its pool below it, leaving the superuser slots free.
SERVER_MAX_CONNECTIONS=20
POOL_SIZE=15
MAX_CLIENT_CONN=1000

log() { printf '[pgbouncer] %s\n' "$*" >&2; }
die() { printf '[pgbouncer] ERROR: %s\n' "$*" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && exec runuser -u postgres -- "$@")
  else
    (cd / && exec "$@")
  fi
}

pg_bindir() {
  find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

install() {
  if [ -x "$BIN" ] && LD_LIBRARY_PATH="$LIBS" "$BIN" --version >/dev/null 2>&1; then
    return
  fi
  log "installing PgBouncer (Debian package, unpacked into $DIR)"
  mkdir -p "$DIR/debs"
  (cd "$DIR/debs" && apt-get download -qq pgbouncer libc-ares2 2>&1 | grep -v '^W:' >&2 || true)
  for deb in "$DIR"/debs/*.deb; do dpkg -x "$deb" "$DIR/root"; done
  LD_LIBRARY_PATH="$LIBS" "$BIN" --version >&2 || die "pgbouncer does not run (ldd $BIN)"
}

start() {
  install
  stop
  local pgbin base data pgport bport
  pgbin="$(pg_bindir)"
  [ -n "$pgbin" ] || die "no PostgreSQL server binaries (scripts/install-tools.sh)"
  # Under /tmp: user postgres must reach it, and the socket path must stay short.
  base="$(mktemp -d "${TMPDIR:-/tmp}/steel-pooler.XXXXXX")"
  chmod 755 "$base"
  printf '%s\n' "$base" >"$RUN/pooler.base"
  data="$base/pg"
  mkdir -p "$data" "$base/bouncer"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$data" "$base/bouncer"
  chmod 700 "$data"
  as_pg "$pgbin/initdb" --no-sync -D "$data" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 >"$base/initdb.log" 2>&1 || die "initdb failed ($base/initdb.log)"
  pgport="$(free_port)"
  cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
port = $pgport
fsync = off
max_connections = $SERVER_MAX_CONNECTIONS
EOF
  as_pg "$pgbin/pg_ctl" -D "$data" -l "$data/postgres.log" -w -t 30 start >/dev/null \
    || die "the small cluster did not start ($data/postgres.log)"
  bport="$(free_port)"
  # Trust on loopback (the test cluster's rule); any database name is forwarded as is.
  cat >"$base/bouncer/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$pgport

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $base/bouncer/users.txt
pool_mode = transaction
max_client_conn = $MAX_CLIENT_CONN
default_pool_size = $POOL_SIZE
max_db_connections = $POOL_SIZE
server_reset_query =
ignore_startup_parameters = extra_float_digits, options
admin_users = postgres
logfile = $base/bouncer/pgbouncer.log
pidfile = $base/bouncer/pgbouncer.pid
EOF
  # trust still needs the user names listed.
  printf '"postgres" ""\n"steel_app" ""\n' >"$base/bouncer/users.txt"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$base/bouncer"
  # More client sockets than the default soft limit of 1024 allows with 1,000 clients.
  ulimit -n 4096 2>/dev/null || true
  as_pg env LD_LIBRARY_PATH="$LIBS" "$BIN" -d "$base/bouncer/pgbouncer.ini" \
    || die "pgbouncer did not start ($base/bouncer/pgbouncer.log)"
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$bport") 2>/dev/null && break
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$bport") 2>/dev/null \
    || die "pgbouncer does not listen on $bport ($base/bouncer/pgbouncer.log)"
  cat >"$ENV_FILE" <<EOF
export STEEL_POOLER_URL='postgres://postgres@127.0.0.1:$bport/postgres'
export STEEL_POOLER_DIRECT_URL='postgres://postgres@127.0.0.1:$pgport/postgres'
export STEEL_POOLER_SERVER_MAX_CONNECTIONS=$SERVER_MAX_CONNECTIONS
export STEEL_POOLER_POOL_SIZE=$POOL_SIZE
export STEEL_POOLER_MAX_CLIENT_CONN=$MAX_CLIENT_CONN
EOF
  log "postgres (max_connections $SERVER_MAX_CONNECTIONS) on $pgport, PgBouncer 1.18 (transaction mode) on $bport"
  echo "$ENV_FILE"
}

stop() {
  local base
  base="$(cat "$RUN/pooler.base" 2>/dev/null || true)"
  [ -n "$base" ] && [ -d "$base" ] || { rm -f "$RUN/pooler.base" "$ENV_FILE"; return 0; }
  local pid
  pid="$(cat "$base/bouncer/pgbouncer.pid" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
  fi
  if [ -f "$base/pg/postmaster.pid" ]; then
    as_pg "$(pg_bindir)/pg_ctl" -D "$base/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$base"
  rm -f "$RUN/pooler.base" "$ENV_FILE"
}

mkdir -p "$RUN"
case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) die "usage: scripts/pgbouncer.sh install|start|stop" ;;
esac
