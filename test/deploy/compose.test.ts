import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { requireCommand } from '../../scripts/local-servers';
import { developmentCredentials, ENV_VARS } from '../../src/config';
import { APP_MALLOC_ENV, APP_NODE_FLAGS } from '../../src/process-memory';

/**
 * Static checks of docker-compose.yml, example.env and the Dockerfile. No Docker engine needed:
 * `docker-compose config` (v1.29 prints YAML) resolves the file with example.env standing in for .env.
 */

const ROOT = path.resolve(__dirname, '../..');

/** Read by the AWS SDK itself, not by our config; the app service needs them for MinIO. */
const AWS_CREDENTIAL_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const;

/** Host port -> the service allowed to publish it. Nothing else may be published. */
const PUBLISHED_PORTS: Record<number, string> = {
  8080: 'temporal-ui',
  9001: 'minio',
  3000: 'grafana',
  9090: 'prometheus',
  9464: 'app',
};

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | boolean | null>;
  ports?: Array<string | { published?: string | number; target?: number }>;
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: unknown[];
}
interface ComposeConfig {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The compose file resolved with `envFile` as its .env (example.env, or an empty one: a fresh clone). */
function composeConfig(envFile = 'example.env'): ComposeConfig {
  const text = execFileSync(
    requireCommand('docker-compose'),
    ['--env-file', envFile, '-f', 'docker-compose.yml', 'config'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return YAML.parse(text) as ComposeConfig;
}

const config = composeConfig();
const services = config.services;
const app = services.app;

function sorted(values: Iterable<string>): string[] {
  return [...values].sort();
}

function publishedPort(port: string | { published?: string | number }): number {
  if (typeof port === 'object') return Number(port.published);
  // "[ip:]published:target[/proto]"
  const parts = port.split('/')[0].split(':');
  return Number(parts.length >= 2 ? parts[parts.length - 2] : Number.NaN);
}

test('the app service sets every variable the app reads, and nothing unknown', () => {
  assert.ok(app, 'docker-compose.yml has no `app` service');
  const env = Object.keys(app.environment ?? {});
  const missing = ENV_VARS.filter((name) => !env.includes(name));
  assert.deepEqual(missing, [], `app service environment lacks ${missing.join(', ')}`);
  const known = new Set<string>([...ENV_VARS, ...AWS_CREDENTIAL_VARS]);
  const unknown = env.filter((name) => !known.has(name));
  assert.deepEqual(unknown, [], `app service environment sets variables the app does not read: ${unknown.join(', ')}`);
  for (const name of AWS_CREDENTIAL_VARS) assert.ok(env.includes(name), `app service environment lacks ${name}`);
});

test('the app service gets credentials only through the environment list, not env_file', () => {
  // env_file: .env would hand the database, MinIO and Grafana passwords to the app, and breaks
  // `config` where no .env exists (CI).
  const raw = YAML.parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { env_file?: unknown }>;
  };
  assert.equal(raw.services.app.env_file, undefined);
});

test('example.env documents every app variable and every variable docker-compose.yml interpolates', () => {
  const text = fs.readFileSync(path.join(ROOT, 'example.env'), 'utf8');
  const lines = text.split(/\r?\n/);
  const defined = new Map<string, number>();
  lines.forEach((line, i) => {
    const m = /^([A-Z_][A-Z0-9_]*)=/.exec(line);
    if (m) defined.set(m[1], i);
  });
  for (const name of [...ENV_VARS, ...AWS_CREDENTIAL_VARS]) {
    assert.ok(defined.has(name), `example.env lacks ${name}`);
  }
  const compose = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
  const referenced = new Set([...compose.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]));
  const undocumented = [...referenced].filter((name) => !defined.has(name));
  assert.deepEqual(undocumented, [], `example.env lacks ${undocumented.join(', ')}`);
  for (const [name, i] of defined) {
    // A comment right above the variable, or above the group of variables it belongs to.
    let j = i - 1;
    while (j >= 0 && /^[A-Z_][A-Z0-9_]*=/.test(lines[j])) j--;
    assert.match(lines[j] ?? '', /^#\s*\S/, `example.env: ${name} needs a one-line comment above it`);
  }
});

test('every image is pinned to an exact version tag', () => {
  for (const [name, svc] of Object.entries(services)) {
    if (svc.build !== undefined) continue;
    assert.ok(svc.image, `${name}: neither image nor build`);
    const m = /^([^@]+?)(?::([^:/@]+))?(?:@sha256:[0-9a-f]{64})?$/.exec(svc.image);
    const tag = m?.[2];
    assert.ok(tag, `${name}: image ${svc.image} has no tag`);
    assert.notEqual(tag, 'latest', `${name}: image ${svc.image} uses latest`);
    assert.match(tag, /\d+\.\d+|\d{4}-\d{2}-\d{2}/, `${name}: image ${svc.image} is not an exact version`);
  }
});

test('only the user-facing ports are published, each by its service', () => {
  const published: Array<[number, string]> = [];
  for (const [name, svc] of Object.entries(services)) {
    for (const port of svc.ports ?? []) published.push([publishedPort(port), name]);
  }
  for (const [port, name] of published) {
    assert.equal(
      PUBLISHED_PORTS[port],
      name,
      `${name} publishes port ${port}; only ${JSON.stringify(PUBLISHED_PORTS)} are allowed`,
    );
  }
  assert.deepEqual(
    sorted(published.map(([port]) => String(port))),
    sorted(Object.keys(PUBLISHED_PORTS)),
    'each user-facing port is published exactly once',
  );
});

test('a fresh clone runs with `docker compose up` alone: no .env needed, every published port on 127.0.0.1', () => {
  const empty = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compose-')), '.env');
  fs.writeFileSync(empty, '');
  const bare = composeConfig(empty);
  const app = bare.services.app.environment ?? {};
  assert.equal(app.AWS_SECRET_ACCESS_KEY, 'dev-only-app-password', 'development credentials by default');
  assert.notEqual(
    app.AWS_ACCESS_KEY_ID,
    bare.services.minio.environment?.MINIO_ROOT_USER,
    "the app holds the bucket job's user, not MinIO's root",
  );
  assert.deepEqual(
    developmentCredentials({ AWS_SECRET_ACCESS_KEY: String(app.AWS_SECRET_ACCESS_KEY) }),
    ['AWS_SECRET_ACCESS_KEY'],
    'and the app warns about them',
  );
  for (const [name, svc] of Object.entries(bare.services)) {
    for (const port of svc.ports ?? []) {
      const hostIp =
        typeof port === 'object' ? (port as { host_ip?: string }).host_ip : port.split(':').slice(0, -2).join(':');
      assert.equal(hostIp, '127.0.0.1', `${name} publishes ${JSON.stringify(port)} beyond loopback`);
    }
  }
});

test('docker-compose.split.yml runs the app as an edge and a workflow service, the workflows with no files and no bucket', () => {
  const text = execFileSync(
    requireCommand('docker-compose'),
    ['--env-file', 'example.env', '-f', 'docker-compose.yml', '-f', 'docker-compose.split.yml', 'config'],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const split = (YAML.parse(text) as ComposeConfig).services;
  assert.equal(split.app.environment?.ROLE, 'edge');
  const workflows = split.workflows.environment ?? {};
  assert.equal(workflows.ROLE, 'workflow');
  for (const name of Object.keys(workflows))
    assert.ok((ENV_VARS as readonly string[]).includes(name), `${name} is not a variable the app reads`);
  for (const name of ['S3_BUCKET', 'WATCH_DIR', 'AWS_SECRET_ACCESS_KEY'])
    assert.equal(workflows[name], undefined, `the workflow service gets no ${name}`);
  assert.equal(split.workflows.volumes, undefined, 'and mounts no files');
});

test('the stack has the Temporal, MinIO and monitoring services', () => {
  for (const name of [
    'postgresql',
    'temporal-admin-tools',
    'temporal',
    'temporal-create-namespace',
    'temporal-ui',
    'minio',
    'minio-create-bucket',
    'app',
    'prometheus',
    'grafana',
  ]) {
    assert.ok(services[name], `missing service ${name}`);
  }
  assert.ok(
    !Object.values(services).some((svc) => svc.image?.startsWith('temporalio/auto-setup')),
    'temporalio/auto-setup is deprecated',
  );
  assert.equal(dependsOn('temporal')['temporal-admin-tools'], 'service_completed_successfully');
  assert.equal(services.temporal.environment?.PROMETHEUS_ENDPOINT, '0.0.0.0:8000');
  for (const volume of ['postgres-data', 'minio-data'])
    assert.ok(config.volumes && volume in config.volumes, `missing volume ${volume}`);
});

test('the Temporal images carry the server version the tests run (TEMPORAL_SERVER_VERSION in scripts/install-tools.sh)', () => {
  const installer = fs.readFileSync(path.join(ROOT, 'scripts/install-tools.sh'), 'utf8');
  const pinned = /^TEMPORAL_SERVER_VERSION=(\S+)/m.exec(installer)?.[1];
  assert.ok(pinned, 'scripts/install-tools.sh pins no TEMPORAL_SERVER_VERSION');
  const temporalImages = Object.entries(services).filter(([, svc]) =>
    /^temporalio\/(server|admin-tools):/.test(svc.image ?? ''),
  );
  assert.deepEqual(
    sorted(temporalImages.map(([name]) => name)),
    ['temporal', 'temporal-admin-tools', 'temporal-create-namespace'],
    'the services that run temporalio/server or temporalio/admin-tools',
  );
  for (const [name, svc] of temporalImages)
    assert.equal(svc.image!.split(':')[1], pinned, `${name}: ${svc.image} is not the tested server ${pinned}`);
});

function dependsOn(service: string): Record<string, string | undefined> {
  const deps = services[service]?.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, undefined]));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d?.condition]));
}

test('the app waits for Temporal, its namespace, MinIO and its bucket', () => {
  assert.deepEqual(dependsOn('app'), {
    temporal: 'service_healthy',
    'temporal-create-namespace': 'service_completed_successfully',
    minio: 'service_healthy',
    'minio-create-bucket': 'service_completed_successfully',
  });
  assert.ok(app.build !== undefined, 'the app is built from the Dockerfile');
});

test('scripts/validate-deploy.sh passes (compose config, hadolint, monitoring config)', () => {
  const hadolint = path.join(ROOT, '.tools/bin/hadolint');
  assert.ok(fs.existsSync(hadolint), `${hadolint} is missing: run \`npm run setup\``);
  const run = spawnSync('bash', ['scripts/validate-deploy.sh'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 0, `scripts/validate-deploy.sh failed:\n${run.stdout}\n${run.stderr}`);
});

test("the Dockerfile and `npm start` run node with the app's flags and malloc settings (src/process-memory.ts)", () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
  assert.ok(cmd, 'the Dockerfile has an exec-form CMD');
  assert.deepEqual(JSON.parse(cmd[1]), ['node', ...APP_NODE_FLAGS, 'dist/main.js']);
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  for (const [name, value] of Object.entries(APP_MALLOC_ENV))
    assert.match(runtimeStage, new RegExp(`^\\s+${name}=${value}\\b`, 'm'), `the runtime image sets ${name}=${value}`);
  const scripts = (
    JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  const malloc = Object.entries(APP_MALLOC_ENV).map(([name, value]) => `${name}=${value}`);
  assert.ok(scripts.start.endsWith(`${malloc.join(' ')} node ${APP_NODE_FLAGS.join(' ')} dist/main.js`), scripts.start);
});
