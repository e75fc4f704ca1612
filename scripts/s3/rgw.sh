#!/usr/bin/env bash
# A real S3 server for tests: Ceph RADOS Gateway on a one-node Ceph cluster, loopback only.
#
#   scripts/s3/rgw.sh start      install if missing, boot (or reuse) the cluster, ensure user + bucket,
#                                wait until an S3 request succeeds. Progress on stderr, nothing on stdout.
#   scripts/s3/rgw.sh stop       stop the daemons of this RGW_DIR and wait until they are gone
#   scripts/s3/rgw.sh status     exit 0 when the bucket answers a signed S3 request
#   scripts/s3/rgw.sh env [P]    print `export P…` lines (P defaults to S3_; tests use RGW_S3_)
#   scripts/s3/rgw.sh purge      stop, then delete RGW_DIR
#
# Environment: RGW_DIR (state, default /tmp/renderio-rgw), RGW_PORT (S3 port, default 7480),
# RGW_MON_PORT (monitor port, default 6789, fixed at first boot), RGW_TIMEOUT (seconds for `start`,
# default 120; apt-get install is not counted).
#
# Invariants:
# - Everything lives under RGW_DIR: ceph.conf, mon/osd stores, the sparse 20G bluestore file
#   (block/, outside the OSD data dir: inside it bluestore fails with ELOOP), pid files and
#   sockets (run/), logs (log/*.log). Daemons run as the calling user (root in CI), so no `ceph`
#   ownership or --setuser is needed.
# - Daemons get their own session (setsid) and stdio on log files: they outlive the shell that ran
#   `start` (and never hold its stdout pipe open) until `stop`, which kills only processes started
#   with this RGW_DIR's ceph.conf.
# - Auth between daemons is "none" (loopback only); S3 SigV4 is still enforced by radosgw.
set -Eeuo pipefail
T0=$SECONDS            # for progress lines
START_SECONDS=$SECONDS # for RGW_TIMEOUT; moved forward by the time apt-get takes

RGW_DIR="$(realpath -m "${RGW_DIR:-/tmp/renderio-rgw}")"
RGW_PORT="${RGW_PORT:-7480}"
RGW_TIMEOUT="${RGW_TIMEOUT:-120}"
ACCESS_KEY="renderio-test"
SECRET_KEY="RenderioTestSecretKeyForLocalRgw00000000" # 40 chars, test-only
BUCKET="renderio-test"
REGION="us-east-1"

CONF="$RGW_DIR/ceph.conf"
LOG_DIR="$RGW_DIR/log"
RUN_DIR="$RGW_DIR/run"
export CEPH_CONF="$CONF"
DAEMONS=(client.rgw osd.0 mon.a) # stop order

# Progress and errors go to fd 8, a copy of the original stderr, so that a step whose output is
# redirected (2>/dev/null) still reports its failure.
exec 8>&2
log() { printf '\033[1m[rgw +%ss]\033[0m %s\n' "$((SECONDS - T0))" "$*" >&8; }

# Prints the message and the tail of every log, then fails. In `start`, also stops what is running.
die() {
  trap - ERR
  log "ERROR: $*"
  # In a $(…) subshell: just fail; the main shell reports again, with the logs, and cleans up.
  [ "$BASHPID" = "$$" ] || exit 1
  local f
  if [ "${NO_LOG_TAIL:-0}" != 1 ]; then
    # shellcheck disable=SC2012 # our own file names, newest first
    ls -t "$LOG_DIR"/*.log 2>/dev/null | head -n 4 | while IFS= read -r f; do
      [ -s "$f" ] || continue
      printf -- '----- tail -n 12 %s -----\n' "$f" >&8
      tail -n 12 "$f" >&8
    done
  fi
  if [ "${IN_START:-0}" = 1 ] && [ "${RGW_KEEP_ON_FAILURE:-0}" != 1 ]; then
    log "stopping what was started (set RGW_KEEP_ON_FAILURE=1 to keep it for debugging)"
    stop_all || true
  fi
  exit 1
}
trap 'rc=$?; die "$(failed_msg "$rc") (line $LINENO): $BASH_COMMAND"' ERR
failed_msg() { if [ "$1" = 124 ]; then echo "timed out (RGW_TIMEOUT=${RGW_TIMEOUT}s)"; else echo "failed (exit $1)"; fi; }

left() { echo $((RGW_TIMEOUT - (SECONDS - START_SECONDS))); }
# Seconds a single step may take: min(cap, time left), at least 1 (a step past the deadline then
# times out quickly, and check_deadline reports it).
budget() {
  local l
  l=$(left)
  if [ "$l" -lt 1 ]; then echo 1; elif [ "$l" -lt "$1" ]; then echo "$l"; else echo "$1"; fi
}
check_deadline() { [ "$(left)" -gt 0 ] || die "timed out after ${RGW_TIMEOUT}s (RGW_TIMEOUT)"; }

ceph_() { check_deadline && timeout "$(budget 30)" ceph --connect-timeout 20 "$@"; }
admin_() { check_deadline && timeout "$(budget 60)" radosgw-admin "$@"; }

# Signed S3 requests via curl's SigV4 support (empty body). s3_status prints the HTTP status
# (000 = no connection), s3_body the response body.
s3_curl() {
  local m=(-X "$1")
  case "$1" in
  PUT | POST) m+=(-H 'Content-Length: 0') ;; # RGW answers 411 without it
  HEAD) m=(-I) ;;                              # -X HEAD would wait for a body until --max-time
  esac
  curl -s --max-time 10 "${m[@]}" --aws-sigv4 "aws:amz:$REGION:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "${@:3}" "$(endpoint)/$2"
}
s3_status() { s3_curl "$1" "$2" -o /dev/null -w '%{http_code}' || true; }
s3_body() { s3_curl "$1" "$2" || true; }

recorded_port() { cat "$RUN_DIR/rgw.port" 2>/dev/null || echo "$RGW_PORT"; }
endpoint() { echo "http://127.0.0.1:$(recorded_port)"; }

# Daemons are always launched as `<daemon> -c CONF <-i|-n> <id>`; ours_argv checks that shape.
ours_argv() { # ours_argv PID [ID]
  local a
  mapfile -d '' -t a 2>/dev/null <"/proc/$1/cmdline" || return 1
  case "${a[0]:-}" in *ceph-mon | *ceph-osd | *radosgw) ;; *) return 1 ;; esac
  [ "${a[1]:-}" = -c ] && [ "${a[2]:-}" = "$CONF" ] && { [ -z "${2:-}" ] || [ "${a[4]:-}" = "$2" ]; }
}
# Pids of this RGW_DIR's daemon ID (found by argv, never by name alone), pid file or not.
our_pids() {
  local p
  for p in /proc/[0-9]*; do
    if ours_argv "${p#/proc/}" "$1"; then echo "${p#/proc/}"; fi
  done
}
# alive NAME: the daemon's pid file points at a live process of ours.
alive() {
  local pid
  pid=$(cat "$RUN_DIR/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && ours_argv "$pid"
}
id_arg() { case "$1" in mon.*) echo "${1#mon.}" ;; osd.*) echo "${1#osd.}" ;; *) echo "$1" ;; esac; }

ensure_installed() {
  local c missing=0
  for c in radosgw radosgw-admin ceph-mon ceph-osd ceph monmaptool; do
    command -v "$c" >/dev/null 2>&1 || missing=1
  done
  [ "$missing" = 0 ] && return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "installing radosgw ceph-mon ceph-osd ceph-common via apt-get (45–75 s measured)"
  export DEBIAN_FRONTEND=noninteractive
  local t=$SECONDS
  # DPkg::Lock::Timeout: wait for a concurrent apt-get (e.g. scripts/test installing ffmpeg) instead of failing.
  { "${sudo[@]}" apt-get update -qq -o DPkg::Lock::Timeout=120 &&
    "${sudo[@]}" apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends \
      radosgw ceph-mon ceph-osd ceph-common; } \
    >"$LOG_DIR/apt-install.log" 2>&1 || die "apt-get install failed (full output in $LOG_DIR/apt-install.log)"
  hash -r
  log "installed in $((SECONDS - t))s"
  START_SECONDS=$((START_SECONDS + SECONDS - t)) # the install does not count against RGW_TIMEOUT
}

write_conf() {
  # shellcheck disable=SC1091
  . "$RGW_DIR/cluster.env"
  cat >"$CONF.tmp" <<EOF
# Generated by scripts/s3/rgw.sh at each start; edits are lost.
[global]
fsid = $FSID
mon host = [v1:127.0.0.1:$MON_PORT]
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = $RUN_DIR
log file = $LOG_DIR/\$name.log
log to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
# Commit map changes after 0.05 s instead of 1 s: RGW's first start issues ~20 pool commands in a row.
paxos propose interval = 0.05
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
osd crush chooseleaf type = 0

[mon]
mon data = $RGW_DIR/mon/\$cluster-\$id
pid file = $RUN_DIR/\$name.pid

[osd]
osd data = $RGW_DIR/osd/\$cluster-\$id
osd objectstore = bluestore
# No crush/device-class commands from the OSD at boot: they race with its first monmap (seen as
# "wrong fsid" + exit 250 on a loaded machine). The crush entry is made once by start_osd.
osd crush update on start = false
osd class update on start = false
bluestore block path = $RGW_DIR/block/\$name.img
bluestore block create = true
bluestore block size = 20G
bluestore cache autotune = false
bluestore cache size = 128M
pid file = $RUN_DIR/\$name.pid

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $RGW_DIR/rgw
# Reclaim the space of deleted objects after minutes, not the default 2 h.
rgw gc obj min wait = 60
rgw gc processor period = 60
pid file = $RUN_DIR/\$name.pid
EOF
  mv "$CONF.tmp" "$CONF"
}

# launch NAME CMD...: new session, no terminal, stdio on a log file; ceph daemons fork themselves.
launch() {
  local name=$1
  shift
  rm -f "$RUN_DIR/$name.pid"
  # 8>&- 9>&-: the daemon must not inherit our stderr copy (a caller's pipe would never see EOF)
  # nor the lock fd (the lock would stay held until the daemon exits).
  setsid "$@" </dev/null >>"$LOG_DIR/$name.stdout.log" 2>&1 8>&- 9>&- && return 0
  local rc=$?
  log "$name exited with $rc while starting"
  return "$rc"
}

wait_for() { # wait_for WHAT CAP CMD...: retry CMD every 0.5 s for up to CAP seconds
  local what=$1 cap=$2 until
  shift 2
  until=$((SECONDS + cap))
  while :; do
    check_deadline
    if "$@" >/dev/null 2>&1; then return 0; fi
    [ "$SECONDS" -lt "$until" ] || die "timed out waiting for $what (${cap}s)"
    sleep 0.5
  done
}

start_mon() {
  if [ ! -e "$RGW_DIR/mon.done" ]; then
    log "creating monitor (fsid $FSID, port $MON_PORT)"
    rm -rf "$RGW_DIR/mon" && mkdir -p "$RGW_DIR/mon/ceph-a"
    monmaptool --create --clobber --fsid "$FSID" --addv a "[v1:127.0.0.1:$MON_PORT]" "$RGW_DIR/monmap" >/dev/null
    timeout "$(budget 30)" ceph-mon -c "$CONF" -i a --mkfs --monmap "$RGW_DIR/monmap" \
      >>"$LOG_DIR/mon.a.stdout.log" 2>&1 || die "ceph-mon --mkfs $(failed_msg $?)"
    touch "$RGW_DIR/mon.done"
  fi
  if ! alive mon.a; then
    log "starting ceph-mon"
    launch mon.a ceph-mon -c "$CONF" -i a || die "ceph-mon failed to start"
  fi
  wait_for "ceph-mon to answer" 30 ceph_ mon stat
}

start_osd() {
  if [ ! -e "$RGW_DIR/osd.done" ]; then
    log "creating OSD 0 (bluestore on a sparse 20G file)"
    local id
    id=$(ceph_ osd new "$OSD_UUID")
    [ "$id" = 0 ] || die "expected osd id 0, got '$id'"
    rm -rf "$RGW_DIR/osd" "$RGW_DIR/block" && mkdir -p "$RGW_DIR/osd/ceph-0" "$RGW_DIR/block"
    timeout "$(budget 60)" ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" \
      >>"$LOG_DIR/osd.0.stdout.log" 2>&1 || die "ceph-osd --mkfs $(failed_msg $?)"
    ceph_ osd crush add-bucket local host >/dev/null 2>&1 || true
    ceph_ osd crush move local root=default >/dev/null 2>&1
    ceph_ osd crush add osd.0 1.0 host=local >/dev/null 2>&1
    touch "$RGW_DIR/osd.done"
  fi
  if ! alive osd.0; then
    log "starting ceph-osd"
    # One retry: a failed OSD start leaves nothing behind that a second attempt would trip over.
    launch osd.0 ceph-osd -c "$CONF" -i 0 || { sleep 1 && launch osd.0 ceph-osd -c "$CONF" -i 0; } ||
      die "osd.0 failed to start twice (see the osd.0 logs)"
  fi
  wait_for "osd.0 to be up" 60 osd_up
}
osd_up() { ceph_ osd stat -f json | grep -q '"num_up_osds":1'; }

start_rgw() {
  if ! alive client.rgw; then
    log "starting radosgw on 127.0.0.1:$RGW_PORT"
    mkdir -p "$RGW_DIR/rgw"
    echo "$RGW_PORT" >"$RUN_DIR/rgw.port"
    launch client.rgw radosgw -c "$CONF" -n client.rgw || die "radosgw failed to start"
  fi
  wait_for "radosgw to answer HTTP on $(endpoint)" 90 rgw_http
}
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
rgw_http() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(endpoint)/")" = 200 ]; }

# radosgw-admin takes seconds per call (it joins the cluster), so it only runs when S3 says the key is unknown.
ensure_user_and_bucket() {
  local code
  code=$(s3_status HEAD "$BUCKET")
  if [ "$code" = 403 ]; then
    log "creating S3 user $ACCESS_KEY"
    admin_ user create --uid="$ACCESS_KEY" --display-name="renderio tests" \
      --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null 2>>"$LOG_DIR/radosgw-admin.log" ||
      die "radosgw-admin user create $(failed_msg $?) (see $LOG_DIR/radosgw-admin.log)"
    code=$(s3_status HEAD "$BUCKET")
  fi
  if [ "$code" = 404 ]; then
    log "creating bucket $BUCKET"
    code=$(s3_status PUT "$BUCKET")
    [ "$code" = 200 ] || die "CreateBucket $BUCKET answered HTTP $code"
  fi
  wait_for "a signed HeadBucket to succeed" 30 bucket_ok
  [ -e "$RGW_DIR/warm.done" ] || warm_up
}

# RGW creates its data pools on the first PUT and the first multipart upload (about 2 s each): do both
# once here, so the first test request is not the slow one. (curl signs "?uploads=" correctly, "?uploads" not.)
warm_up() {
  log "warming up (first PUT and first multipart upload create the data pools)"
  local key=.rgw-sh-warm-up out id
  [ "$(s3_status PUT "$BUCKET/$key")" = 200 ] || die "warm-up PutObject failed"
  [ "$(s3_status DELETE "$BUCKET/$key")" = 204 ] || die "warm-up DeleteObject failed"
  out=$(s3_body POST "$BUCKET/$key?uploads=")
  id=$(sed -n 's:.*<UploadId>\(.*\)</UploadId>.*:\1:p' <<<"$out")
  [ -n "$id" ] || die "warm-up CreateMultipartUpload failed: $out"
  [ "$(s3_status DELETE "$BUCKET/$key?uploadId=$id")" = 204 ] || die "warm-up AbortMultipartUpload failed"
  touch "$RGW_DIR/warm.done"
}
bucket_ok() { [ "$(s3_status HEAD "$BUCKET")" = 200 ]; }

cmd_start() {
  mkdir -p "$RGW_DIR" "$LOG_DIR" "$RUN_DIR"
  ensure_installed
  exec 9>"$RGW_DIR/lock"
  flock -w "$(budget 60)" 9 || die "another 'rgw.sh start' holds $RGW_DIR/lock"
  IN_START=1
  if [ ! -e "$RGW_DIR/cluster.env" ]; then
    printf 'FSID=%s\nOSD_UUID=%s\nMON_PORT=%s\n' "$(cat /proc/sys/kernel/random/uuid)" \
      "$(cat /proc/sys/kernel/random/uuid)" "${RGW_MON_PORT:-6789}" >"$RGW_DIR/cluster.env"
  fi
  if alive mon.a && alive osd.0 && alive client.rgw && [ -e "$RGW_DIR/warm.done" ] && bucket_ok; then
    log "already running: $(endpoint) bucket $BUCKET"
    return 0
  fi
  write_conf
  if [ -n "${RGW_MON_PORT:-}" ] && [ "$RGW_MON_PORT" != "$MON_PORT" ]; then
    log "note: RGW_MON_PORT=$RGW_MON_PORT ignored, this cluster was created with $MON_PORT"
  fi
  if ! alive client.rgw && port_taken "$RGW_PORT"; then
    NO_LOG_TAIL=1 die "127.0.0.1:$RGW_PORT is already taken by another server (set RGW_PORT)"
  fi
  start_mon
  start_osd
  start_rgw
  ensure_user_and_bucket
  log "ready in $((SECONDS - T0))s: $(endpoint) bucket $BUCKET (state in $RGW_DIR)"
}

stop_all() {
  local name pids pid n=0
  for name in "${DAEMONS[@]}"; do
    pids=$(
      { alive "$name" && cat "$RUN_DIR/$name.pid"; our_pids "$(id_arg "$name")"; } | sort -u | xargs
    ) || true
    [ -n "$pids" ] || continue
    log "stopping $name (pid $pids)"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for pid in $pids; do
      n=0
      while kill -0 "$pid" 2>/dev/null; do
        n=$((n + 1))
        if [ "$n" -eq 300 ]; then
          log "$name pid $pid ignored SIGTERM for 30 s, sending SIGKILL"
          kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.1
      done
    done
    rm -f "$RUN_DIR/$name.pid"
  done
}

cmd_status() {
  local name
  for name in mon.a osd.0 client.rgw; do
    if alive "$name"; then log "$name: running (pid $(cat "$RUN_DIR/$name.pid"))"; else log "$name: not running"; fi
  done
  local code
  code=$(s3_status HEAD "$BUCKET")
  if [ "$code" = 200 ]; then
    log "S3: $(endpoint)/$BUCKET answers"
    return 0
  fi
  log "S3: $(endpoint)/$BUCKET not reachable (HTTP $code)"
  return 1
}

cmd_env() {
  local p=${1:-S3_}
  cat <<EOF
export ${p}ENDPOINT=$(endpoint)
export ${p}REGION=$REGION
export ${p}BUCKET=$BUCKET
export ${p}ACCESS_KEY_ID=$ACCESS_KEY
export ${p}SECRET_ACCESS_KEY=$SECRET_KEY
export ${p}FORCE_PATH_STYLE=true
EOF
}

cmd_purge() {
  stop_all
  if [ -d "$RGW_DIR" ]; then
    [ -e "$RGW_DIR/lock" ] || [ -e "$RGW_DIR/cluster.env" ] || [ -z "$(ls -A "$RGW_DIR")" ] ||
      die "$RGW_DIR does not look like an rgw.sh directory; not deleting it"
    rm -rf "$RGW_DIR"
    log "deleted $RGW_DIR"
  fi
}

case "${1:-}" in
start) cmd_start ;;
stop) stop_all ;;
status) cmd_status || exit 1 ;; # `||`: a plain non-zero return would fire the ERR trap
env) cmd_env "${2:-}" ;;
purge) cmd_purge ;;
*)
  sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
  ;;
esac
