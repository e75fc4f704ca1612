# Shared by scripts/start and scripts/test: installs only what is missing, idempotent and
# non-interactive (safe under CI=true with no terminal). Source it; call ensure_all [extra apt packages].

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    log "need root for: $*  (run as root or install sudo)"; return 1; fi
}

BUN_VERSION="${BUN_VERSION:-1.4.5}"

ensure_bun() {
  if command -v bun >/dev/null 2>&1; then return; fi
  log "installing Bun ${BUN_VERSION} via npm"
  as_root npm install -g --no-fund --no-audit "bun@${BUN_VERSION}" >&2
  hash -r
  command -v bun >/dev/null 2>&1 || { log "bun not on PATH after npm install"; return 1; }
}

# ensure_apt CMD:PACKAGE ... — installs PACKAGE when CMD is missing.
ensure_apt() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]} via apt-get"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

ensure_deps() {
  log "installing dependencies (bun install --frozen-lockfile)"
  bun install --frozen-lockfile >&2
}

ensure_all() {
  ensure_bun
  ensure_apt ffmpeg:ffmpeg ffprobe:ffmpeg bwrap:bubblewrap "$@"
  ensure_deps
}
