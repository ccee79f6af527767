#!/usr/bin/env bash
# Static checks of the deployment files (no Docker engine needed):
#   - docker-compose.yml resolves with example.env (`docker-compose config`), without unset variables,
#     every image pinned to an exact tag, only the user-facing ports published;
#   - Dockerfile passes hadolint (.tools/bin/hadolint, installed by `npm run setup`);
#   - the Prometheus and Grafana provisioning YAML parse, the dashboard JSON parses and covers the app's metrics;
#   - the one-shot job scripts mounted into the containers are valid sh.
# Exits non-zero on the first failing check, with a message saying what to fix.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fail() { echo "validate-deploy: FAIL: $*" >&2; exit 1; }
ok() { echo "validate-deploy: ok: $*"; }

# ---- docker compose ----
COMPOSE="${COMPOSE:-docker-compose}"
command -v "$COMPOSE" >/dev/null 2>&1 \
  || fail "$COMPOSE not found; install it (Debian: apt-get install docker-compose) or set COMPOSE to a compatible binary"
[ -f example.env ] || fail "example.env is missing"
[ -d node_modules/yaml ] || fail "the yaml package is missing from node_modules; run npm ci"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if ! "$COMPOSE" --env-file example.env -f docker-compose.yml config -q 2>"$tmp/q.err"; then
  cat "$tmp/q.err" >&2
  fail "docker-compose.yml does not resolve with example.env"
fi
"$COMPOSE" --env-file example.env -f docker-compose.yml config >"$tmp/config.yml" 2>"$tmp/config.err" \
  || { cat "$tmp/config.err" >&2; fail "docker-compose config failed"; }
if grep -qi 'warning' "$tmp/config.err"; then
  cat "$tmp/config.err" >&2
  fail "docker-compose config warns (a variable missing from example.env?)"
fi
ok "docker-compose config (example.env)"

node - "$tmp/config.yml" <<'EOF' || fail "resolved compose config violates the deployment rules (see above)"
const fs = require('node:fs');
const YAML = require('yaml');
const config = YAML.parse(fs.readFileSync(process.argv[2], 'utf8'));
const allowedPorts = new Set([8080, 9001, 3000, 9090, 9464]);
const problems = [];
for (const [name, svc] of Object.entries(config.services ?? {})) {
  if (svc.image === undefined && svc.build === undefined) problems.push(`${name}: no image and no build`);
  if (svc.image !== undefined && svc.build === undefined) {
    const m = /^(?<repo>[^@]+?)(?::(?<tag>[^:/@]+))?(?:@sha256:[0-9a-f]{64})?$/.exec(svc.image);
    const tag = m?.groups?.tag;
    if (!tag) problems.push(`${name}: image ${svc.image} has no tag`);
    else if (tag === 'latest' || !/\d/.test(tag)) problems.push(`${name}: image ${svc.image} is not pinned to a version`);
  }
  for (const port of svc.ports ?? []) {
    const published = typeof port === 'object' ? Number(port.published) : Number(String(port).split(':').slice(-2, -1)[0]);
    if (!allowedPorts.has(published)) problems.push(`${name}: publishes port ${JSON.stringify(port)} (allowed: ${[...allowedPorts].join(', ')})`);
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
EOF
ok "images pinned, only user-facing ports published"

# ---- Dockerfile ----
HADOLINT=.tools/bin/hadolint
[ -x "$HADOLINT" ] || fail "$HADOLINT not found; run \`npm run setup\` (scripts/install-tools.sh) first"
"$HADOLINT" Dockerfile || fail "hadolint reports problems in Dockerfile"
ok "hadolint Dockerfile"

# ---- Prometheus, Grafana ----
node <<'EOF' || fail "monitoring config is invalid (see above)"
const fs = require('node:fs');
const YAML = require('yaml');
const problems = [];
function parse(file, parser) {
  try {
    return parser(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    problems.push(`${file}: ${err.message}`);
    return undefined;
  }
}
const strictYaml = (text) => YAML.parse(text, { strict: true, uniqueKeys: true });

const prom = parse('deploy/prometheus/prometheus.yml', strictYaml);
if (prom) {
  const targets = (prom.scrape_configs ?? []).flatMap((job) => (job.static_configs ?? []).flatMap((c) => c.targets ?? []));
  for (const want of ['app:9464', 'app:9465', 'temporal:8000']) {
    if (!targets.includes(want)) problems.push(`deploy/prometheus/prometheus.yml: no scrape target ${want}`);
  }
  const jobs = (prom.scrape_configs ?? []).map((job) => job.job_name);
  if (new Set(jobs).size !== jobs.length) problems.push('deploy/prometheus/prometheus.yml: duplicate job_name');
}

for (const dir of ['deploy/grafana/provisioning/datasources', 'deploy/grafana/provisioning/dashboards']) {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : [];
  if (files.length === 0) problems.push(`${dir}: no provisioning file`);
  for (const f of files) {
    const doc = parse(`${dir}/${f}`, strictYaml);
    if (doc && doc.apiVersion !== 1) problems.push(`${dir}/${f}: apiVersion must be 1`);
  }
}

const dashboardFile = 'deploy/grafana/dashboards/stream-uploader.json';
const dashboard = parse(dashboardFile, JSON.parse);
if (dashboard) {
  const exprs = (dashboard.panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).join('\n');
  const metrics = [
    'stream_uploader_chunks_uploaded_total',
    'stream_uploader_bytes_uploaded_total',
    'stream_uploader_chunk_upload_duration_seconds_bucket',
    'stream_uploader_activity_failures_total',
    'stream_uploader_retries_total',
    'stream_uploader_active_streams',
    'stream_uploader_streams_finished_total',
    'stream_uploader_chunk_lag_seconds_bucket',
    'stream_uploader_finalize_latency_seconds_bucket',
    'process_resident_memory_bytes',
  ];
  for (const m of metrics) if (!exprs.includes(m)) problems.push(`${dashboardFile}: no panel queries ${m}`);
  const ids = (dashboard.panels ?? []).map((p) => p.id);
  if (new Set(ids).size !== ids.length) problems.push(`${dashboardFile}: duplicate panel ids`);
}

if (problems.length > 0) {
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
EOF
ok "prometheus.yml, grafana provisioning, dashboard JSON"

# ---- scripts run inside the one-shot containers ----
for script in deploy/temporal/scripts/*.sh deploy/minio/*.sh; do
  sh -n "$script" || fail "$script is not valid sh"
done
ok "deploy scripts parse"

echo "validate-deploy: all checks passed"
