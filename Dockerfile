# renderio: the single binary (`bun build --compile`) on Debian bookworm-slim with ffmpeg.
#   docker build -t renderio .
#   podman build --format docker -t renderio .   (the OCI format has no HEALTHCHECK; docker format keeps it)
# The base images are build arguments so that a machine without registry access can substitute local
# ones (scripts/test-container does). Both stages are Debian bookworm (glibc), so the binary built in
# stage 1 runs in stage 2.
ARG BUILD_BASE=docker.io/oven/bun:1
ARG RUN_BASE=docker.io/library/debian:bookworm-slim

FROM ${BUILD_BASE} AS build
WORKDIR /build
# Behind a TLS-inspecting proxy, `bun install` must trust the proxy's CA: mount the PEM file into the
# build and pass its path here (scripts/test-container does). Only this throw-away stage sees it.
ARG NODE_EXTRA_CA_CERTS
# Dependencies first: this layer is reused while package.json, bun.lock and the dependency patches stay the
# same (scripts/patches: applied by bun install, see package.json patchedDependencies). Only runtime
# dependencies are installed; no dependency needs an install script.
COPY package.json bun.lock ./
COPY scripts/patches ./scripts/patches
RUN bun install --frozen-lockfile --production --ignore-scripts
COPY tsconfig.json ./
COPY drizzle ./drizzle
COPY src ./src
# dist/renderio embeds the migrations and the docs UI assets; nothing else from this stage is kept.
RUN bun run build

FROM ${RUN_BASE}
# ffmpeg/ffprobe do the media work; bubblewrap sandboxes them when the container allows it (README,
# "Running in a container"); tini becomes PID 1 (see ENTRYPOINT); ca-certificates for HTTPS inputs,
# S3/R2 and webhooks.
RUN export DEBIAN_FRONTEND=noninteractive \
 && apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg bubblewrap tini ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

# A fixed unprivileged uid/gid, so a bind-mounted /data can be chowned to it on the host.
RUN groupadd --gid 10001 renderio \
 && useradd --uid 10001 --gid renderio --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin renderio \
 && mkdir /data \
 && chown renderio:renderio /data

COPY --from=build /build/dist/renderio /usr/local/bin/renderio

# Declared late: a new revision then rebuilds only these metadata layers, not the apt-get layer.
ARG RUN_BASE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="renderio" \
      org.opencontainers.image.description="Self-hosted, RenderIO-compatible FFmpeg file and command API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${RUN_BASE}"

ENV DATA_DIR=/data HOST=0.0.0.0 PORT=3000
VOLUME /data
USER renderio
EXPOSE 3000
STOPSIGNAL SIGTERM
# Nothing is installed for the check: bash (always present on Debian) opens the port through
# /dev/tcp and looks for a 200 status line. A Bun-based check would start a ~100 MB runtime every
# interval. It asks loopback when the server listens on every interface, else the address in HOST.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "h=${HOST:-127.0.0.1}; [[ $h == 0.0.0.0 || $h == :: ]] && h=127.0.0.1; exec 3<>/dev/tcp/$h/${PORT:-3000} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && read -r s <&3 && [[ $s == HTTP/1.?' 200'* ]]"]
# tini as PID 1 reaps orphaned children (ffmpeg under bwrap), which Bun does not, and forwards SIGTERM
# to the server, which stops accepting, drains uploads and jobs for SHUTDOWN_GRACE_SECONDS and exits 0.
# (Bun as PID 1 ignores SIGTERM unless the program handles it; ours does, tini keeps it that way.)
# No `-g`: media processes run in their own process groups and are stopped by the server.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["renderio", "serve"]
