import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { toolPath } from '../../scripts/local-servers';

/**
 * The alert rules of deploy/prometheus/, with promtool built from the Prometheus module the
 * compose's image is made of: they load, each is unit-tested (deploy/prometheus/alerts.test.yml),
 * and the tests catch a rule that is changed.
 */

const ROOT = path.resolve(__dirname, '../..');
const PROMETHEUS_DIR = path.join(ROOT, 'deploy/prometheus');

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  annotations?: { summary?: string };
}
interface RuleTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

function promtool(args: string[], cwd: string): { code: number | null; out: string } {
  const run = spawnSync(toolPath('promtool'), args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

const rules = (): Rule[] =>
  (
    YAML.parse(fs.readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: Rule[] }[] }
  ).groups.flatMap((group) => group.rules);

test('prometheus.yml and its rule files load', () => {
  const { code, out } = promtool(['check', 'config', 'prometheus.yml'], PROMETHEUS_DIR);
  assert.equal(code, 0, out);
  assert.match(out, /SUCCESS: 1 rule files found/);
});

test('the compose mounts every rule file beside prometheus.yml', () => {
  const config = YAML.parse(fs.readFileSync(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
    rule_files: string[];
  };
  const compose = YAML.parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: { prometheus: { volumes: string[] } };
  };
  for (const file of config.rule_files)
    assert.ok(
      compose.services.prometheus.volumes.includes(`./deploy/prometheus/${file}:/etc/prometheus/${file}:ro`),
      `docker-compose.yml does not mount ${file}`,
    );
});

test('every alert says what to do and has a test where it fires', () => {
  const tests = YAML.parse(fs.readFileSync(path.join(PROMETHEUS_DIR, 'alerts.test.yml'), 'utf8')) as RuleTests;
  const fired = new Set(
    tests.tests.flatMap((t) =>
      (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
    ),
  );
  for (const rule of rules()) {
    assert.ok(rule.alert, `a recording rule in alerts.yml: ${rule.expr}`);
    assert.match(rule.annotations?.summary ?? '', /npm run cli|Check|Look|See|Free|Start|Find/, rule.alert);
    assert.ok(fired.has(rule.alert), `${rule.alert} has no test where it fires`);
  }
});

test('promtool test rules passes', () => {
  const { code, out } = promtool(['test', 'rules', 'alerts.test.yml'], PROMETHEUS_DIR);
  assert.equal(code, 0, out);
});

test('the rule tests fail when a rule is changed', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alerts-'));
  try {
    fs.copyFileSync(path.join(PROMETHEUS_DIR, 'alerts.test.yml'), path.join(dir, 'alerts.test.yml'));
    const alerts = fs.readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8');
    // A blocked stream paging at once, rather than after 10 minutes.
    const broken = alerts.replace(/(alert: StreamBlocked\n(?:.*\n)*?\s+for: )10m/, '$11m');
    assert.notEqual(broken, alerts);
    fs.writeFileSync(path.join(dir, 'alerts.yml'), broken);
    const { code, out } = promtool(['test', 'rules', 'alerts.test.yml'], dir);
    assert.equal(code, 1, out);
    assert.match(out, /alertname: StreamBlocked, time: 11m/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
