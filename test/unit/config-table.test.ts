import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import { loadConfig, loadDotEnv } from '../../src/config';
import {
  CONFIG_VARIABLES,
  ENV_VARS,
  TEMPORAL_SECURITY_ENV_VARS,
  type ConfigVariable,
  type EnvVar,
} from '../../src/config-variables';

/**
 * CONFIG_VARIABLES, which loadConfig takes its defaults and ranges from, against the places an
 * operator reads them: README.md's configuration table, example.env and the compose files.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

const NAMES = Object.keys(CONFIG_VARIABLES) as EnvVar[];
const variable = (name: string): ConfigVariable | undefined => CONFIG_VARIABLES[name as EnvVar];

/** Read by the AWS SDK itself, not by our config: README lists them, compose passes them. */
const AWS_CREDENTIAL_VARS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

/**
 * Where compose deliberately gives the app something else than the app's default, by file, then
 * service: the value (or `${NAME:-fallback}`'s fallback) and why.
 */
const COMPOSE_OVERRIDES: Record<string, Record<string, Partial<Record<EnvVar, [value: string, why: string]>>>> = {
  'docker-compose.yml': {
    app: {
      WATCH_DIR: ['/data/input', 'where the host directory WATCH_DIR names is mounted in the container'],
      HOST_ID: ['compose-app', "a re-created container's hostname changes, and streams in flight would wait for it"],
      S3_ENDPOINT: ['http://minio:9000', "the stack's MinIO"],
      S3_BUCKET: ['recordings', 'the bucket minio-create-bucket creates; the app has no default'],
      S3_FORCE_PATH_STYLE: ['true', 'MinIO needs path-style addressing'],
      TEMPORAL_ADDRESS: ['temporal:7233', "the stack's Temporal"],
      METRICS_HOST: ['0.0.0.0', "the published port and Prometheus reach it from outside the container's loopback"],
    },
  },
  'docker-compose.split.yml': {
    app: { ROLE: ['edge', "the split runs compose's app as an edge"] },
    workflows: {
      ROLE: ['workflow', 'the stream workflows, with no files and no bucket'],
      TEMPORAL_ADDRESS: ['temporal:7233', "the stack's Temporal"],
      METRICS_HOST: ['0.0.0.0', "Prometheus reaches it from outside the container's loopback"],
    },
  },
};

type ComposeEnvironment = Record<string, string | number | boolean | null>;

function composeServices(file: string): Record<string, { environment?: ComposeEnvironment }> {
  return (YAML.parse(read(file)) as { services: Record<string, { environment?: ComposeEnvironment }> }).services;
}

/** What compose gives the app when .env is silent: `${NAME:-fallback}`'s fallback, or a fixed value. */
function composeValue(name: string, value: ComposeEnvironment[string]): string {
  const text = String(value ?? '');
  const interpolated = /^\$\{([A-Za-z0-9_]+)(?::-(.*))?\}$/.exec(text);
  if (!interpolated) return text;
  assert.equal(interpolated[1], name, `${name} takes its value from \${${interpolated[1]}}`);
  return interpolated[2] ?? '';
}

function checkComposeService(file: string, service: string, environment: ComposeEnvironment): void {
  const overrides = COMPOSE_OVERRIDES[file][service] ?? {};
  for (const [name, value] of Object.entries(environment)) {
    if (AWS_CREDENTIAL_VARS.includes(name)) continue;
    const entry = variable(name);
    assert.ok(entry, `${file}: ${service} sets ${name}, which the app does not read`);
    const expected = overrides[name as EnvVar]?.[0] ?? entry.default;
    assert.equal(composeValue(name, value), expected, `${file}: ${service}'s ${name}`);
  }
  for (const name of Object.keys(overrides))
    assert.ok(name in environment, `${file}: ${service} no longer overrides ${name}: drop it from COMPOSE_OVERRIDES`);
}

describe('the configuration table', () => {
  test('is every variable loadConfig reads, and nothing else', () => {
    const seen = new Set<string>();
    const env = new Proxy<Record<string, string>>(
      { S3_BUCKET: 'recordings' },
      {
        get(target, name) {
          if (typeof name === 'string') seen.add(name);
          return target[name as string];
        },
      },
    );
    loadConfig(env, ROOT);
    assert.deepEqual([...seen].sort(), [...NAMES].sort());
    assert.deepEqual([...ENV_VARS, ...TEMPORAL_SECURITY_ENV_VARS].sort(), [...NAMES].sort());
  });

  test('records a README or example.env text only where it differs from the default; every role runs all', () => {
    for (const name of NAMES) {
      const entry: ConfigVariable = CONFIG_VARIABLES[name];
      if (entry.readmeDefault !== undefined) assert.notEqual(entry.readmeDefault, `\`${entry.default}\``, name);
      if (entry.exampleEnv !== undefined) assert.notEqual(entry.exampleEnv, entry.default, name);
      assert.ok(entry.roles.includes('all'), `${name}: role all runs everything`);
    }
  });

  test("matches README.md's configuration table, defaults included", () => {
    const readme = read('README.md');
    const start = readme.indexOf('\n## Configuration\n');
    assert.notEqual(start, -1, 'README.md has no "## Configuration" section');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const documented: string[] = [];
    for (const row of section.split('\n').filter((line) => line.startsWith('| `'))) {
      const [, nameCell, defaultCell] = row.split('|').map((cell) => cell.trim());
      // A cell may name several variables that share their default (the client certificate and its key).
      for (const [, name] of nameCell.matchAll(/`([A-Z0-9_]+)`/g)) {
        documented.push(name);
        if (AWS_CREDENTIAL_VARS.includes(name)) {
          assert.equal(defaultCell, '', `README.md: ${name} is the AWS SDK's, with no default of ours`);
          continue;
        }
        const entry = variable(name);
        assert.ok(entry, `README.md documents ${name}, which the app does not read`);
        const expected = entry.readmeDefault ?? (entry.default === undefined ? undefined : `\`${entry.default}\``);
        assert.equal(defaultCell, expected, `README.md: the default of ${name}`);
      }
    }
    assert.deepEqual(
      documented.filter((name) => !AWS_CREDENTIAL_VARS.includes(name)).sort(),
      [...NAMES].sort(),
      'README.md documents each variable once',
    );
  });

  test('matches example.env: every app variable at its default, or at the value the table records for it', () => {
    const text = read('example.env');
    const set: Record<string, string | undefined> = {};
    loadDotEnv(path.join(ROOT, 'example.env'), set);
    for (const name of ENV_VARS) {
      const entry: ConfigVariable = CONFIG_VARIABLES[name];
      assert.ok(name in set, `example.env lacks ${name}`);
      assert.equal(set[name], entry.exampleEnv ?? entry.default, `example.env: ${name}`);
    }
    // Commented out: unset, so the defaults apply. Compose's Temporal has no TLS.
    for (const name of TEMPORAL_SECURITY_ENV_VARS) {
      assert.equal(set[name], undefined, `example.env sets ${name}`);
      assert.match(text, new RegExp(`^# ${name}=`, 'm'), `example.env shows ${name}, commented out`);
    }
  });

  test("matches docker-compose.yml's app service, but for the overrides listed here", () => {
    const app = composeServices('docker-compose.yml').app.environment ?? {};
    for (const name of ENV_VARS) assert.ok(name in app, `docker-compose.yml: the app service lacks ${name}`);
    checkComposeService('docker-compose.yml', 'app', app);
    // Elsewhere too (the WATCH_DIR mount, the published ports, the bucket job), a fallback is the default or compose's.
    for (const [, name, fallback] of read('docker-compose.yml').matchAll(/\$\{([A-Z0-9_]+):-([^}]*)\}/g)) {
      const entry = variable(name);
      if (!entry) continue;
      const override = COMPOSE_OVERRIDES['docker-compose.yml'].app[name as EnvVar]?.[0];
      assert.ok([entry.default, override].includes(fallback), `docker-compose.yml: \${${name}:-${fallback}}`);
    }
  });

  test('matches docker-compose.split.yml, whose workflows service gets the settings of its role', () => {
    const services = composeServices('docker-compose.split.yml');
    const composeApp = composeServices('docker-compose.yml').app.environment ?? {};
    for (const [service, { environment }] of Object.entries(services))
      checkComposeService('docker-compose.split.yml', service, environment ?? {});
    const workflows = services.workflows.environment ?? {};
    const missing = Object.keys(composeApp).filter(
      (name) => variable(name)?.roles.includes('workflow') && !(name in workflows),
    );
    assert.deepEqual(missing, [], 'the workflows service lacks settings its role reads');
  });
});
