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
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
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
CMD ["node", "--max-semi-space-size=4", "dist/main.js"]
