# syntax=docker/dockerfile:1
# stream-uploader: watcher + Temporal worker in one Node process.
# Debian (glibc) base on purpose: the Temporal worker's native core (Rust, via N-API) is not built for musl/alpine.

ARG NODE_IMAGE=node:24.19.0-bookworm-slim

# ---- build: full dependency tree, TypeScript -> dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- deps: the build's dependencies less the dev ones, pruned to what runs on this platform ----
# @temporalio/core-bridge ships the native core of five platforms (about 25 MB each) and the Rust
# sources of it: only this platform's core stays. Source maps, type declarations, TypeScript
# sources, tests and docs of the dependencies go too; the LICENSE files stay.
FROM build AS deps
RUN npm prune --omit=dev --no-audit --no-fund \
 && target="$(node -p "require('@temporalio/core-bridge/common').getPrebuiltTargetName()")" \
 && find node_modules/@temporalio/core-bridge/releases -mindepth 1 -maxdepth 1 ! -name "$target" -exec rm -rf {} + \
 && rm -rf node_modules/@temporalio/core-bridge/sdk-core node_modules/@temporalio/core-bridge/src \
      node_modules/@temporalio/core-bridge/bridge-macros node_modules/@temporalio/core-bridge/Cargo.* \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
      -o -name '*.ts' -o \( \( -iname '*.md' -o -iname '*.markdown' \) ! -iname 'licen[cs]e*' \) \) -delete \
 && find node_modules -depth -type d \( -name test -o -name tests -o -name __tests__ \) -exec rm -rf {} + \
 && node -e "require('@temporalio/core-bridge'); require('@temporalio/worker')"

# ---- runtime: production dependencies + compiled output only ----
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM/SIGINT to node and reaps zombies, so the app's graceful shutdown runs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini=0.19.0-* \
 && rm -rf /var/lib/apt/lists/*

# MALLOC_*: glibc's malloc with 2 arenas and fixed thresholds, for the app's memory (src/process-memory.ts).
ENV NODE_ENV=production \
    WATCH_DIR=/data/input \
    METRICS_PORT=9464 \
    TEMPORAL_METRICS_PORT=9465 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    MALLOC_MMAP_THRESHOLD_=131072

WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

RUN mkdir -p /data/input && chown 1000:1000 /data/input
VOLUME ["/data/input"]

# uid/gid 1000 is the unprivileged `node` user of the official Node images.
USER 1000:1000
EXPOSE 9464 9465
STOPSIGNAL SIGTERM
# No curl in the image: Node 20's global fetch probes the app's own metrics endpoint.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || '9464') + '/metrics').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=512", "dist/main.js"]
