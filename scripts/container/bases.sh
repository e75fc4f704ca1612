#!/usr/bin/env bash
# Makes the two local base images the Dockerfile's ARGs point at when no registry is reachable:
#   RUN_BASE   localhost/renderio-run-base:bookworm   Debian bookworm minbase from debootstrap, trimmed the
#                                                     way debian:bookworm-slim is (no docs, man pages,
#                                                     locales or apt lists); stands in for debian:bookworm-slim.
#   BUILD_BASE localhost/renderio-build-base:bun-<v>  the same plus this machine's Bun binary as
#                                                     /usr/local/bin/bun; stands in for oven/bun:1.
# Idempotent: an image that already exists is kept; the debootstrap result is cached as a tarball in
# $CACHE_DIR so even a wiped image store does not repeat the 40 s debootstrap.
# Prints "RUN_BASE=... BUILD_BASE=..." lines for eval. Needs root, podman, buildah and debootstrap.
set -euo pipefail

CACHE_DIR="${RENDERIO_CONTAINER_CACHE:-/var/cache/renderio-container}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
RUN_BASE=localhost/renderio-run-base:bookworm
BUN_BIN="$(readlink -f "$(command -v bun)")"
BUN_VERSION="$(bun --version)"
BUILD_BASE="localhost/renderio-build-base:bun-${BUN_VERSION}"
PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

make_rootfs_tar() {
  local tar="$CACHE_DIR/bookworm-minbase.tar" dir="$CACHE_DIR/rootfs.tmp"
  [ -s "$tar" ] && return
  mkdir -p "$CACHE_DIR"
  rm -rf "$dir"
  say "debootstrap --variant=minbase bookworm (about 40 s, cached afterwards)"
  debootstrap --variant=minbase bookworm "$dir" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE_DIR/debootstrap.log" >&2; return 1; }
  # Same suites as the official image (updates and security), so `apt-get install` in the Dockerfile
  # gets the same package versions it would get on debian:bookworm-slim.
  rm -f "$dir/etc/apt/sources.list"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${MIRROR}
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Slim: dpkg skips documentation, man pages and translations from now on (what later apt-get
  # installs unpack too), and what debootstrap already unpacked of them is removed.
  cat >"$dir/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$dir/usr/share/man"/* "$dir/usr/share/info"/* "$dir/usr/share/lintian"
  find "$dir/usr/share/locale" -mindepth 1 -not -name locale.alias -delete
  rm -rf "$dir/var/cache/apt"/*.bin "$dir/var/cache/apt/archives"/*.deb "$dir/var/lib/apt/lists"/*
  tar -C "$dir" -cf "$tar.part" .
  mv "$tar.part" "$tar"
  rm -rf "$dir"
}

if ! podman image exists "$RUN_BASE"; then
  make_rootfs_tar
  say "importing $RUN_BASE"
  podman import --quiet --change "ENV $PATH_ENV" --change 'CMD ["bash"]' \
    "$CACHE_DIR/bookworm-minbase.tar" "$RUN_BASE" >/dev/null
fi

if ! podman image exists "$BUILD_BASE"; then
  say "making $BUILD_BASE (run base + $BUN_BIN)"
  ctr="$(buildah from --pull=never "$RUN_BASE")"
  trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
  buildah copy --chmod 0755 "$ctr" "$BUN_BIN" /usr/local/bin/bun >/dev/null
  buildah config --env "$PATH_ENV" "$ctr"
  buildah commit --quiet --rm "$ctr" "$BUILD_BASE" >/dev/null
  trap - EXIT
fi

echo "RUN_BASE=$RUN_BASE"
echo "BUILD_BASE=$BUILD_BASE"
