#!/usr/bin/env bash
# services.sh — starts/stops the local test services, all on 127.0.0.1 only:
#   PostgreSQL (throwaway cluster, or the environment's DATABASE_URL when it answers),
#   S3 (s3s-fs, checks SigV4; bucket steel-vault-local), SQS (moto_server; queue steel-sync-events).
# State (pid files, logs, data dirs) lives in $ROOT/.tools/run/; the connection settings are written to
# $ROOT/.tools/run/services.env (export lines; `. .tools/run/services.env`).
# Usage: scripts/services.sh start|stop|status
#   start   starts what is not already running (reuses live services from an earlier start) and prints
#           the path of services.env on stdout; on failure prints the log tail, stops what it started,
#           exits non-zero.
#   stop    stops everything it started (by recorded PID); safe to call twice.
#   status  prints what runs; exit 0 when all three services are up, 1 otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
RUN="$TOOLS/run"
VENV="$TOOLS/venv"
S3S="$TOOLS/bin/s3s-fs"
MOTO="$VENV/bin/moto_server"
ENV_FILE="$RUN/services.env"

S3_ACCESS_KEY="steel-test-key"
S3_SECRET_KEY="steel-test-secret-0123456789"
S3_BUCKET="steel-vault-local"
SQS_QUEUE="steel-sync-events"
PURGE_QUEUE="steel-account-purges"
REGION="us-east-1"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

state() { if [ -f "$RUN/$1" ]; then cat "$RUN/$1"; fi; }

# True when $1 is a live (non-zombie) process whose command line contains $2.
pid_alive() {
  local pid="$1" pattern="$2" cmdline
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmdline="$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)"
  [[ "$cmdline" == *"$pattern"* ]]
}

# True while process $1 exists and is not a zombie (used right after fork, before exec).
proc_running() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st="$({ cat "/proc/$1/stat"; } 2>/dev/null || true)"
  st="${st##*) }"
  [ -n "$st" ] && [ "${st:0:1}" != Z ]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

python_bin() {
  if [ -x "$VENV/bin/python" ]; then echo "$VENV/bin/python"; else echo python3; fi
}

free_port() {
  "$(python_bin)" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_bindir() {
  local d
  d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# Run a PostgreSQL server command as the postgres user (initdb/pg_ctl refuse root); fd 9 (our lock)
# must not leak into the server.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && exec runuser -u postgres -- "$@") 9>&-
  else
    (cd / && exec "$@") 9>&-
  fi
}

psql_bin() { if [ -n "${PGBIN:-}" ] && [ -x "$PGBIN/psql" ]; then echo "$PGBIN/psql"; else echo psql; fi; }

db_answers() {
  [ -n "$1" ] || return 1
  PGCONNECT_TIMEOUT=3 "$(psql_bin)" -w -X -Atq -d "$1" -c 'select 1' </dev/null >/dev/null 2>&1
}

pg_ours_running() {
  local datadir
  datadir="$(state pg.datadir)"
  [ -n "$datadir" ] && [ -f "$datadir/postmaster.pid" ] && [ -n "${PGBIN:-}" ] \
    && as_pg "$PGBIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

# Can the postgres user reach (search) directory $1?
pg_can_traverse() {
  if [ "$(id -u)" -ne 0 ]; then return 0; fi
  runuser -u postgres -- test -x "$1" 2>/dev/null
}

lock() {
  mkdir -p "$RUN"
  exec 9>"$RUN/.lock"
  flock -w 120 9 || die "another services.sh holds $RUN/.lock"
}

# ---------------------------------------------------------------------------------------------
# stop helpers

stop_proc() { # name pattern
  local name="$1" pattern="$2" pid i
  pid="$(state "$name.pid")"
  if pid_alive "$pid" "$pattern"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      pid_alive "$pid" "$pattern" || break
      sleep 0.1
    done
    if pid_alive "$pid" "$pattern"; then
      log "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    log "$name stopped (pid $pid)"
  fi
  rm -f "$RUN/$name.pid" "$RUN/$name.port"
}

stop_pg() {
  local datadir tmpbase
  datadir="$(state pg.datadir)"
  tmpbase="$(state pg.tmpbase)"
  if [ -n "$datadir" ]; then
    if [ -f "$datadir/postmaster.pid" ]; then
      PGBIN="${PGBIN:-$(pg_bindir || true)}"
      if [ -n "$PGBIN" ] && as_pg "$PGBIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
        if as_pg "$PGBIN/pg_ctl" -D "$datadir" -m fast -w -t 30 stop >/dev/null 2>&1; then
          log "postgres stopped ($datadir)"
        else
          local pmpid
          pmpid="$(head -n1 "$datadir/postmaster.pid" 2>/dev/null || true)"
          log "pg_ctl stop failed; killing postmaster $pmpid"
          if pid_alive "$pmpid" postgres; then kill -KILL "$pmpid" 2>/dev/null || true; fi
          sleep 0.5
        fi
      fi
    fi
    if [ -f "$datadir/postgres.log" ]; then cp "$datadir/postgres.log" "$RUN/pg.last.log" 2>/dev/null || true; fi
    # Throwaway cluster: remove it (only paths we created ourselves).
    if [ "$datadir" = "$RUN/pg" ] || { [ -n "$tmpbase" ] && [ "$datadir" = "$tmpbase/pg" ]; }; then
      rm -rf "$datadir"
    fi
  fi
  if [ -n "$tmpbase" ] && [ -d "$tmpbase" ]; then rm -rf "$tmpbase"; fi
  rm -f "$RUN/pg.datadir" "$RUN/pg.port" "$RUN/pg.tmpbase" "$RUN/pg.external"
}

# ---------------------------------------------------------------------------------------------
# start helpers; each sets its *_URL / *_PORT variables

STARTED=()
START_OK=0

fail_start() { # message logfile
  log "ERROR: $1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    log "---- last lines of $2 ----"
    tail -n 30 "$2" >&2 || true
    log "----"
  fi
  exit 1 # the EXIT trap stops what this invocation started
}

on_start_exit() {
  local rc=$?
  if [ "$START_OK" -ne 1 ]; then
    local s
    for s in "${STARTED[@]}"; do
      case "$s" in
        pg) stop_pg ;;
        s3) stop_proc s3 s3s-fs ;;
        sqs) stop_proc sqs moto_server ;;
      esac
    done
    [ "$rc" -eq 0 ] && rc=1
  fi
  exit "$rc"
}

start_pg() {
  local ext
  ext="$(state pg.external)"
  if [ -n "$ext" ] && db_answers "$ext"; then
    DATABASE_URL_OUT="$ext"
    log "postgres: reusing external DATABASE_URL"
    return
  fi
  if pg_ours_running; then
    DATABASE_URL_OUT="postgres://postgres@127.0.0.1:$(state pg.port)/postgres"
    log "postgres: already running on 127.0.0.1:$(state pg.port) (reused)"
    return
  fi
  if [ -n "${DATABASE_URL:-}" ] && db_answers "$DATABASE_URL"; then
    stop_pg # clear stale state of an earlier cluster of ours, if any
    printf '%s\n' "$DATABASE_URL" >"$RUN/pg.external"
    DATABASE_URL_OUT="$DATABASE_URL"
    log "postgres: DATABASE_URL from the environment answers; reusing it (nothing started)"
    return
  fi

  stop_pg # leftovers from a crashed run
  [ -n "${PGBIN:-}" ] || die "no PostgreSQL server binaries (run scripts/install-tools.sh)"

  local datadir="$RUN/pg" tmpbase=""
  # The postgres user must reach the data dir, and the unix socket path must fit in 107 bytes.
  if ! pg_can_traverse "$RUN" || [ "${#datadir}" -gt 80 ]; then
    tmpbase="$(mktemp -d "${TMPDIR:-/tmp}/steel-pg.XXXXXX")"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$tmpbase"
    datadir="$tmpbase/pg"
    printf '%s\n' "$tmpbase" >"$RUN/pg.tmpbase"
    log "postgres: $RUN not reachable by user postgres (or path too long); cluster in $datadir"
  fi
  [[ "$datadir" != *"'"* ]] || die "data dir path contains a quote: $datadir"
  printf '%s\n' "$datadir" >"$RUN/pg.datadir"
  STARTED+=(pg)

  mkdir -p "$datadir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$datadir"
  chmod 700 "$datadir"
  local initlog="$RUN/pg.init.log"
  : >"$initlog"
  # --no-sync: throwaway cluster, skip the final fsync of the new data dir (saves ~3 s)
  as_pg "$PGBIN/initdb" --no-sync -D "$datadir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >>"$initlog" 2>&1 || fail_start "initdb failed" "$initlog"
  cat >>"$datadir/postgresql.conf" <<EOF

# --- added by scripts/services.sh (throwaway test cluster) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$datadir'
fsync = off
max_connections = 200
EOF

  local attempt port
  for attempt in 1 2 3; do
    port="$(free_port)"
    printf "port = %s\n" "$port" >>"$datadir/postgresql.conf"
    printf '%s\n' "$port" >"$RUN/pg.port"
    if as_pg "$PGBIN/pg_ctl" -D "$datadir" -l "$datadir/postgres.log" -w -t 30 start >>"$initlog" 2>&1; then
      DATABASE_URL_OUT="postgres://postgres@127.0.0.1:$port/postgres"
      db_answers "$DATABASE_URL_OUT" || fail_start "postgres started but does not answer on $port" "$datadir/postgres.log"
      log "postgres: started on 127.0.0.1:$port (data $datadir)"
      return
    fi
    log "postgres: start on port $port failed (attempt $attempt)"
    as_pg "$PGBIN/pg_ctl" -D "$datadir" -m immediate -w stop >/dev/null 2>&1 || true
  done
  cat "$initlog" >>"$datadir/postgres.log" 2>/dev/null || true
  fail_start "postgres did not start" "$datadir/postgres.log"
}

# launch_daemon name pattern logfile cmd... (the literal word PORT in cmd is replaced by a free port)
launch_daemon() {
  local name="$1" pattern="$2" logfile="$3" attempt port pid i ok
  shift 3
  for attempt in 1 2 3; do
    port="$(free_port)"
    local args=() a
    for a in "$@"; do
      if [ "$a" = PORT ]; then args+=("$port"); else args+=("$a"); fi
    done
    # Own session (setsid): a Ctrl-C / SIGINT to the caller's process group must not reach the
    # daemon, and no controlling terminal means no SIGHUP. The inner shell writes its own PID
    # (kept by exec) so the pid file is right even when setsid has to fork.
    rm -f "$RUN/$name.pid"
    printf '%s\n' "$port" >"$RUN/$name.port"
    [[ " ${STARTED[*]} " == *" $name "* ]] || STARTED+=("$name")
    # shellcheck disable=SC2016  # $$ and $@ expand in the inner shell
    setsid bash -c 'echo "$$" >"$0"; exec "$@"' "$RUN/$name.pid" "${args[@]}" \
      >"$logfile" 2>&1 </dev/null 9>&- &
    for ((i = 0; i < 100; i++)); do
      [ -s "$RUN/$name.pid" ] && break
      sleep 0.05
    done
    pid="$(state "$name.pid")"
    ok=0
    for ((i = 0; i < 300; i++)); do
      proc_running "$pid" || break
      if port_open "$port"; then ok=1; break; fi
      sleep 0.1
    done
    if [ "$ok" -eq 1 ]; then
      LAUNCHED_PORT="$port"
      return 0
    fi
    log "$name: did not come up on port $port (attempt $attempt)"
    if [ "$attempt" -lt 3 ] && grep -qiE 'in use|AddrInUse' "$logfile"; then
      stop_proc "$name" "$pattern"
      continue
    fi
    break
  done
  fail_start "$name did not start" "$logfile"
}

# aws_setup s3|sqs endpoint name — creates the bucket / queue; prints the bucket name / queue URL.
aws_setup() {
  env -u AWS_PROFILE -u AWS_DEFAULT_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL \
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    "$VENV/bin/python" - "$@" "$S3_ACCESS_KEY" "$S3_SECRET_KEY" "$REGION" <<'PY'
import sys, time
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

kind, endpoint, name, key, secret, region = sys.argv[1:7]
cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
             connect_timeout=2, read_timeout=10)
kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id=key,
          aws_secret_access_key=secret, config=cfg)
deadline = time.time() + 20
while True:
    try:
        if kind == "s3":
            c = boto3.client("s3", **kw)
            try:
                c.head_bucket(Bucket=name)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                    raise
                c.create_bucket(Bucket=name)
                c.head_bucket(Bucket=name)
            print(name)
        else:
            c = boto3.client("sqs", **kw)
            print(c.create_queue(QueueName=name)["QueueUrl"])
        break
    except Exception as e:  # server may still be warming up
        if time.time() > deadline:
            print(f"{kind} setup failed: {e}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.3)
PY
}

start_s3() {
  local pid port
  pid="$(state s3.pid)"
  port="$(state s3.port)"
  if pid_alive "$pid" s3s-fs && [ -n "$port" ] && port_open "$port"; then
    S3_PORT="$port"
    log "s3 (s3s-fs): already running on 127.0.0.1:$port (reused)"
    return
  fi
  stop_proc s3 s3s-fs
  rm -rf "$RUN/s3"
  mkdir -p "$RUN/s3"
  launch_daemon s3 s3s-fs "$RUN/s3.log" \
    "$S3S" --host 127.0.0.1 --port PORT --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" "$RUN/s3"
  S3_PORT="$LAUNCHED_PORT"
  aws_setup s3 "http://127.0.0.1:$S3_PORT" "$S3_BUCKET" >/dev/null 2>>"$RUN/s3.log" \
    || fail_start "could not create bucket $S3_BUCKET" "$RUN/s3.log"
  log "s3 (s3s-fs): started on 127.0.0.1:$S3_PORT, bucket $S3_BUCKET (data $RUN/s3)"
}

start_sqs() {
  local pid port url
  pid="$(state sqs.pid)"
  port="$(state sqs.port)"
  url="$(state sqs.url)"
  PURGE_URL="$(state sqs.purge-url)"
  if pid_alive "$pid" moto_server && [ -n "$port" ] && [ -n "$url" ] && port_open "$port"; then
    SQS_PORT="$port"
    SQS_URL="$url"
    if [ -z "$PURGE_URL" ]; then
      PURGE_URL="$(aws_setup sqs "http://127.0.0.1:$SQS_PORT" "$PURGE_QUEUE" 2>>"$RUN/sqs.log")" \
        || fail_start "could not create queue $PURGE_QUEUE" "$RUN/sqs.log"
      printf '%s\n' "$PURGE_URL" >"$RUN/sqs.purge-url"
    fi
    log "sqs (moto): already running on 127.0.0.1:$port (reused)"
    return
  fi
  stop_proc sqs moto_server
  rm -f "$RUN/sqs.url" "$RUN/sqs.purge-url"
  launch_daemon sqs moto_server "$RUN/sqs.log" "$MOTO" -H 127.0.0.1 -p PORT
  SQS_PORT="$LAUNCHED_PORT"
  SQS_URL="$(aws_setup sqs "http://127.0.0.1:$SQS_PORT" "$SQS_QUEUE" 2>>"$RUN/sqs.log")" \
    || fail_start "could not create queue $SQS_QUEUE" "$RUN/sqs.log"
  [ -n "$SQS_URL" ] || fail_start "empty QueueUrl" "$RUN/sqs.log"
  printf '%s\n' "$SQS_URL" >"$RUN/sqs.url"
  PURGE_URL="$(aws_setup sqs "http://127.0.0.1:$SQS_PORT" "$PURGE_QUEUE" 2>>"$RUN/sqs.log")" \
    || fail_start "could not create queue $PURGE_QUEUE" "$RUN/sqs.log"
  printf '%s\n' "$PURGE_URL" >"$RUN/sqs.purge-url"
  log "sqs (moto): started on 127.0.0.1:$SQS_PORT, queues $SQS_URL $PURGE_URL"
}

write_env() {
  local content tmp
  content="$(
    printf '# Generated by scripts/services.sh start; stale after scripts/services.sh stop.\n'
    printf '# Use: . %s\n' "$ENV_FILE"
    local kv
    for kv in \
      "DATABASE_URL=$DATABASE_URL_OUT" \
      "AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY" \
      "AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY" \
      "AWS_REGION=$REGION" \
      "AWS_DEFAULT_REGION=$REGION" \
      "AWS_EC2_METADATA_DISABLED=true" \
      "AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_PORT" \
      "S3_FORCE_PATH_STYLE=true" \
      "S3_BUCKET=$S3_BUCKET" \
      "S3_REGION=$REGION" \
      "AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$SQS_PORT" \
      "SQS_QUEUE_URL=$SQS_URL" \
      "PURGE_QUEUE_URL=$PURGE_URL"; do
      local v="${kv#*=}"
      [[ "$v" != *"'"* ]] || die "value with a quote: ${kv%%=*}"
      printf "export %s='%s'\n" "${kv%%=*}" "$v"
    done
  )"
  if [ -f "$ENV_FILE" ] && [ "$(cat "$ENV_FILE")" = "$content" ]; then
    log "all services reused; $ENV_FILE unchanged"
    return
  fi
  tmp="$ENV_FILE.tmp.$$"
  printf '%s\n' "$content" >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
  log "wrote $ENV_FILE"
}

# ---------------------------------------------------------------------------------------------

cmd_start() {
  local t0=$SECONDS
  if [ ! -x "$S3S" ] || [ ! -x "$MOTO" ] || ! pg_bindir >/dev/null; then
    log "tools missing; running scripts/install-tools.sh"
    "$ROOT/scripts/install-tools.sh" 9>&- >&2
  fi
  PGBIN="$(pg_bindir)" || die "no PostgreSQL server binaries after install"
  lock
  trap on_start_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  start_pg
  start_s3
  start_sqs
  write_env
  START_OK=1
  trap - EXIT INT TERM
  log "ready in $((SECONDS - t0)) s"
  printf '%s\n' "$ENV_FILE"
}

cmd_stop() {
  lock
  PGBIN="$(pg_bindir || true)"
  stop_proc sqs moto_server
  stop_proc s3 s3s-fs
  stop_pg
  rm -f "$RUN/sqs.url" "$RUN/sqs.purge-url" "$ENV_FILE"
  log "all stopped"
}

cmd_status() {
  local up=0 pid port ext
  PGBIN="$(pg_bindir || true)"
  mkdir -p "$RUN"
  ext="$(state pg.external)"
  if [ -n "$ext" ]; then
    if db_answers "$ext"; then echo "postgres: external DATABASE_URL (not started by us), answers"; up=$((up + 1))
    else echo "postgres: external DATABASE_URL (not started by us), NOT answering"; fi
  elif pg_ours_running; then
    pid="$(head -n1 "$(state pg.datadir)/postmaster.pid" 2>/dev/null || true)"
    echo "postgres: running, pid $pid, postgres://postgres@127.0.0.1:$(state pg.port)/postgres, data $(state pg.datadir)"
    up=$((up + 1))
  else
    echo "postgres: not running"
  fi
  pid="$(state s3.pid)"
  port="$(state s3.port)"
  if pid_alive "$pid" s3s-fs; then
    echo "s3 (s3s-fs): running, pid $pid, http://127.0.0.1:$port, bucket $S3_BUCKET, log $RUN/s3.log"
    up=$((up + 1))
  else
    echo "s3 (s3s-fs): not running"
  fi
  pid="$(state sqs.pid)"
  port="$(state sqs.port)"
  if pid_alive "$pid" moto_server; then
    echo "sqs (moto): running, pid $pid, http://127.0.0.1:$port, queue $(state sqs.url), log $RUN/sqs.log"
    up=$((up + 1))
  else
    echo "sqs (moto): not running"
  fi
  if [ -f "$ENV_FILE" ]; then echo "env: $ENV_FILE"; fi
  [ "$up" -eq 3 ]
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
