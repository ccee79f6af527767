import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import YAML from 'yaml';
import { freePort, supervise, toolPath, type Supervised } from '../../scripts/local-servers';
import { startRig, type Rig } from '../reliability/rig';
import { recordLive } from '../support/media';
import { waitUntil } from '../support/wait';

/**
 * The Grafana dashboard proven on a real Prometheus (built from the module the compose's image is
 * made of) running the project's prometheus.yml and alert rules: it scrapes the real app through a
 * live ffmpeg recording, then every panel's query must return data over the run. Grafana itself
 * need not run: its variables are substituted as it would.
 */

const ROOT = path.resolve(__dirname, '../..');
/** Short, so the run needs seconds; Grafana's $__rate_interval is at least four scrape intervals. */
const SCRAPE_SECONDS = 1;
const RATE_INTERVAL = `${4 * SCRAPE_SECONDS}s`;

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
interface ScrapeConfig {
  job_name: string;
  static_configs: { targets: string[] }[];
}
interface PrometheusConfig {
  global: Record<string, string>;
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
}
interface ApiResponse<T> {
  status: string;
  error?: string;
  data: T;
}

let rig: Rig;
let prometheus: Supervised;
let prometheusUrl: string;

async function api<T>(pathAndQuery: string): Promise<ApiResponse<T>> {
  return (await (await fetch(`${prometheusUrl}${pathAndQuery}`)).json()) as ApiResponse<T>;
}

before(async () => {
  rig = await startRig({ name: 'dashboard' });
  rig.startApp();
  await rig.app.waitForLog((line) => line.msg === 'stream-uploader started', 60_000);

  // The project's config and rule files, with only the targets pointed at this test's processes.
  const dir = path.join(rig.dir, 'prometheus');
  fs.mkdirSync(dir);
  const config = YAML.parse(
    fs.readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8'),
  ) as PrometheusConfig;
  const port = await freePort();
  const targets: Record<string, string | null> = {
    'stream-uploader': `127.0.0.1:${rig.env.METRICS_PORT}`,
    'stream-uploader-temporal-sdk': `127.0.0.1:${rig.env.TEMPORAL_METRICS_PORT}`,
    // The dev server's metrics port is its own; no panel reads the server's metrics.
    'temporal-server': null,
    prometheus: `127.0.0.1:${port}`,
  };
  config.scrape_configs = config.scrape_configs.filter((scrape) => {
    assert.ok(scrape.job_name in targets, `prometheus.yml has a job this test does not know: ${scrape.job_name}`);
    const target = targets[scrape.job_name];
    if (target) scrape.static_configs = [{ targets: [target] }];
    return target !== null;
  });
  config.global = {
    ...config.global,
    scrape_interval: `${SCRAPE_SECONDS}s`,
    evaluation_interval: `${SCRAPE_SECONDS}s`,
  };
  for (const file of config.rule_files)
    fs.copyFileSync(path.join(ROOT, 'deploy/prometheus', file), path.join(dir, file));
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify(config));
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = supervise(
    toolPath('prometheus'),
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    process.env,
    path.join(dir, 'prometheus.log'),
  );
  await waitUntil(
    async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.ok === true,
    30_000,
    () => prometheus.stderrExcerpt(),
  );
});

after(async () => {
  await prometheus?.stop();
  await rig?.stop(false);
});

test("every panel's query returns data over a live recording, and the alert rules load", async () => {
  const start = Date.now() / 1000;
  const recording = recordLive(path.join(rig.watchDir, 'cam.mp4'), { seconds: 12, kind: 'regular' });
  await recording.done;
  const settled = await rig.settle([rig.expect('cam.mp4')], 60_000);
  assert.deepEqual(settled.problems, []);
  // The last counts and the finished stream reach Prometheus.
  await new Promise((resolve) => setTimeout(resolve, 4 * SCRAPE_SECONDS * 1000));
  const end = Date.now() / 1000;

  const targets = await api<{ activeTargets: { labels: { job: string }; health: string; lastError: string }[] }>(
    '/api/v1/targets',
  );
  for (const target of targets.data.activeTargets)
    assert.equal(target.health, 'up', `${target.labels.job}: ${target.lastError}`);

  const rules = await api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>(
    '/api/v1/rules',
  );
  const loaded = rules.data.groups.flatMap((group) => group.rules);
  assert.ok(loaded.length > 0, 'no rules loaded');
  for (const rule of loaded) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);

  const dashboard = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/stream-uploader.json'), 'utf8'),
  ) as { panels: Panel[] };
  const grafanaVariables = (expr: string) =>
    expr
      .replaceAll('$__rate_interval', RATE_INTERVAL)
      .replaceAll('$__interval', `${SCRAPE_SECONDS}s`)
      .replaceAll('$__range', `${Math.ceil(end - start)}s`)
      .replaceAll('$job', 'stream-uploader');
  const queries = (panels: Panel[]): { title: string; expr: string }[] =>
    panels.flatMap((panel) => [
      ...(panel.targets ?? []).map(({ expr }) => ({ title: panel.title, expr })),
      ...queries(panel.panels ?? []),
    ]);
  // What the alerts read beside the panels: the stream's phase, its host queue and the watched disk.
  const alertInputs = [
    'stream_uploader_streams{phase="recording"} > 0',
    'stream_uploader_host_queue_streams > 0',
    'stream_uploader_host_queue_pollers > 0',
    'stream_uploader_watch_dir_free_bytes > 0',
    'stream_uploader_watch_dir_free_inodes > 0',
    'stream_uploader_active_streams_query_up == 1',
  ].map((expr) => ({ title: 'alert input', expr }));
  const empty: string[] = [];
  for (const { title, expr } of [...queries(dashboard.panels), ...alertInputs]) {
    const query = new URLSearchParams({
      query: grafanaVariables(expr),
      start: String(start),
      end: String(end),
      step: `${SCRAPE_SECONDS}s`,
    });
    const result = await api<{ result: { values: [number, string][] }[] }>(`/api/v1/query_range?${query}`);
    assert.equal(result.status, 'success', `${title}: ${expr}: ${result.error}`);
    // A quantile of no observations is NaN: a line Grafana does not draw.
    const data = result.data.result.some((series) => series.values.some(([, value]) => value !== 'NaN'));
    if (!data) empty.push(`${title}: ${expr}`);
  }
  assert.deepEqual(empty, [], 'queries that returned no data');

  const jobs = await api<string[]>(
    `/api/v1/label/job/values?${new URLSearchParams({ 'match[]': 'stream_uploader_chunks_uploaded_total' })}`,
  );
  assert.deepEqual(jobs.data, ['stream-uploader'], "the dashboard's $job variable");
});
