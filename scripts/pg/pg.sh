#!/usr/bin/env bash
# A real PostgreSQL server for tests: Debian's `postgresql` binaries, a private data directory and a
# private port on loopback.
#
#   scripts/pg/pg.sh start      install if missing, initdb (first time), start, wait until it answers.
#                               Progress on stderr, nothing on stdout.
#   scripts/pg/pg.sh stop       stop the server of this PG_DIR (fast shutdown) and wait
#   scripts/pg/pg.sh status     exit 0 when the server answers
#   scripts/pg/pg.sh env [P]    print `export P…` lines (P defaults to PG_; tests use TEST_PG_)
#   scripts/pg/pg.sh purge      stop, then delete PG_DIR
#
# Environment: PG_DIR (state, default /tmp/renderio-pg), PG_PORT (default 55432, fixed at first start).
#
# Invariants:
# - Everything lives under PG_DIR: data/ (the cluster), run/ (unix socket), log, port, password.
# - PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` system user (created
#   by the Debian package) and every pg binary runs through runuser; otherwise it runs as the caller.
# - Loopback TCP only, password (scram) auth for the `renderio` superuser; fsync off (test data only).
set -Eeuo pipefail

PG_DIR="$(realpath -m "${PG_DIR:-/tmp/renderio-pg}")"
PG_PORT="${PG_PORT:-55432}"
PG_USER="renderio"
PG_PASSWORD="renderio-test-password" # test-only

log() { printf '\033[1m[pg]\033[0m %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  [ -f "$PG_DIR/log" ] && tail -n 20 "$PG_DIR/log" >&2
  exit 1
}

bindir() {
  local d
  d=$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && dirname "$d"
}

ensure_installed() {
  [ -n "$(bindir)" ] && return
  log "installing postgresql via apt-get"
  export DEBIAN_FRONTEND=noninteractive
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql >&2
  [ -n "$(bindir)" ] || die "no initdb after installing postgresql"
}

# as_owner CMD...: runs CMD as the cluster owner (postgres when we are root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port() { cat "$PG_DIR/port" 2>/dev/null || echo "$PG_PORT"; }

running() { as_owner "$(bindir)/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; }

answers() { "$(bindir)/pg_isready" -q -h 127.0.0.1 -p "$(port)" -t 2; }

cmd_start() {
  ensure_installed
  mkdir -p "$PG_DIR/run"
  [ -f "$PG_DIR/port" ] || echo "$PG_PORT" >"$PG_DIR/port"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$PG_DIR" && chmod 0755 "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    log "initdb in $PG_DIR/data"
    local pw="$PG_DIR/run/pwfile"
    printf '%s\n' "$PG_PASSWORD" >"$pw"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$pw"
    as_owner "$(bindir)/initdb" -D "$PG_DIR/data" -U "$PG_USER" --pwfile="$pw" -E UTF8 --locale=C.UTF-8 \
      --auth-host=scram-sha-256 --auth-local=peer >/dev/null || die "initdb failed"
    rm -f "$pw"
  fi
  if running && answers; then
    log "already running on 127.0.0.1:$(port)"
    return
  fi
  log "starting on 127.0.0.1:$(port)"
  # Many test servers each hold a small pool: 300 connections. fsync/synchronous_commit off: test data.
  as_owner "$(bindir)/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 start -o \
    "-p $(port) -k $PG_DIR/run -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off \
     -c synchronous_commit=off -c full_page_writes=off" >/dev/null || die "pg_ctl start failed"
  answers || die "server started but does not answer"
  log "ready"
}

cmd_stop() {
  [ -n "$(bindir)" ] && [ -f "$PG_DIR/data/PG_VERSION" ] || return 0
  running || return 0
  as_owner "$(bindir)/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
}

cmd_env() {
  local p=${1:-PG_}
  echo "export ${p}URL=postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$(port)/postgres"
}

cmd_purge() {
  cmd_stop
  if [ -d "$PG_DIR" ]; then
    [ -z "$(ls -A "$PG_DIR")" ] || [ -f "$PG_DIR/port" ] || die "$PG_DIR is not a pg.sh directory; not deleting it"
    rm -rf "$PG_DIR"
  fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) answers || exit 1 ;;
env) cmd_env "${2:-}" ;;
purge) cmd_purge ;;
*)
  sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
