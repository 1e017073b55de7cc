#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the store-contract and end-to-end
# tests, built from Debian's binaries.
#
#   scripts/pg-test-cluster.sh start DIR   # prints postgresql://postgres@127.0.0.1:PORT/growhook_test
#   scripts/pg-test-cluster.sh stop DIR
#   scripts/pg-test-cluster.sh standby DIR PRIMARY_DIR  # a synchronous streaming standby of PRIMARY_DIR's
#                                                      # cluster (pg_basebackup); prints its URL
#   scripts/pg-test-cluster.sh kill DIR      # the server dies at once (pg_ctl stop -m immediate)
#   scripts/pg-test-cluster.sh promote DIR   # the standby becomes a primary
#
# The cluster lives in DIR (data/, sock/, log), listens on 127.0.0.1 only,
# on a free port, with its Unix socket under DIR; authentication is trust
# (for the local test user only: nothing listens beyond loopback). Only the
# URL goes to stdout; progress and errors go to stderr. When run as root,
# the server runs as the `postgres` user and DIR is handed to it.
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
DB_NAME=growhook_test

die() { echo "pg-test-cluster: $*" >&2; exit 1; }
usage() { die "usage: $0 start|stop|kill|promote DIR, or $0 standby DIR PRIMARY_DIR"; }

[ $# -eq 2 ] || [ $# -eq 3 ] || usage
cmd=$1
dir=$2
primary_dir=${3:-}

# Runs a command as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

ensure_binaries() {
  [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && return 0
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL 15 is missing ($PG_BIN); install it with: sudo apt-get install -y postgresql"
  echo "pg-test-cluster: installing PostgreSQL (apt-get install -y postgresql)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2; } ||
    die "could not install postgresql"
  [ -x "$PG_BIN/initdb" ] || die "postgresql is installed but $PG_BIN/initdb is missing (not version 15?)"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! port_in_use "$p"; then
      echo "$p"
      return 0
    fi
  done
  die "found no free port on 127.0.0.1"
}

url_for() { echo "postgresql://postgres@127.0.0.1:$1/$DB_NAME"; }

running() { [ -f "$dir/data/postmaster.pid" ] && as_owner "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

start() {
  ensure_binaries
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  case "$dir" in *" "*) die "DIR must not contain spaces: $dir" ;; esac
  if running && [ -f "$dir/port" ]; then
    url_for "$(cat "$dir/port")"
    return 0
  fi
  if [ "$(id -u)" -eq 0 ]; then
    getent passwd postgres >/dev/null || die "user postgres is missing (apt-get install -y postgresql creates it)"
    chown -R postgres: "$dir"
    runuser -u postgres -- test -w "$dir" ||
      die "user postgres cannot reach $dir; choose a DIR under /tmp"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner mkdir -p "$dir/sock"
    as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-instructions \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  local port
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/sock -c max_connections=300" \
      start >&2; then
      echo "$port" >"$dir/port"
      as_owner "$PG_BIN/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt \
        -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1 ||
        as_owner "$PG_BIN/createdb" -h "$dir/sock" -p "$port" -U postgres "$DB_NAME" >&2 ||
        die "could not create database $DB_NAME"
      url_for "$port"
      return 0
    fi
    echo "pg-test-cluster: start on port $port failed; trying another port" >&2
    tail -n 5 "$dir/log" >&2 || true
  done
  die "PostgreSQL did not start; see $dir/log"
}

# A streaming standby of the cluster in $primary_dir, made synchronous: the
# primary's commits wait for it (synchronous_standby_names), so a commit
# that returned survives the primary's loss once the standby is promoted.
standby() {
  ensure_binaries
  [ -n "$primary_dir" ] && [ -f "$primary_dir/port" ] || die "standby: no running primary in '$primary_dir'"
  local pport
  pport=$(cat "$primary_dir/port")
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
  as_owner mkdir -p "$dir/sock"
  as_owner "$PG_BIN/pg_basebackup" -D "$dir/data" -R -X stream --checkpoint=fast --no-sync \
    -d "host=127.0.0.1 port=$pport user=postgres application_name=standby1" >"$dir/basebackup.log" 2>&1 ||
    { cat "$dir/basebackup.log" >&2; die "pg_basebackup failed"; }
  local port
  port=$(free_port)
  as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/sock -c max_connections=300" \
    start >&2 || { tail -n 5 "$dir/log" >&2; die "the standby did not start"; }
  echo "$port" >"$dir/port"
  local psql_p=("$PG_BIN/psql" -h 127.0.0.1 -p "$pport" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)
  as_owner "${psql_p[@]}" -c "ALTER SYSTEM SET synchronous_standby_names = 'standby1'" -c "SELECT pg_reload_conf()" \
    >/dev/null || die "could not make the standby synchronous"
  for _ in $(seq 1 100); do
    if [ "$(as_owner "${psql_p[@]}" -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")" = sync ]; then
      url_for "$port"
      return 0
    fi
    sleep 0.1
  done
  die "the standby did not become synchronous"
}

stop() {
  [ -f "$dir/data/PG_VERSION" ] || return 0
  if running; then
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  standby) standby ;;
  kill) running && as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 ;;
  promote) as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -w -t 60 promote >&2 ;;
  *) usage ;;
esac
