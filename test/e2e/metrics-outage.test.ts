import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { ANY_PORT, freePort, startTemporal, type TemporalServer } from '../../scripts/local-servers';
import { loadConfig } from '../../src/config';
import { streamRef } from '../../src/stream/identity';
import type { StreamUploadInput } from '../../src/stream/types';
import { streamOptionsFrom } from '../../src/watcher/stream-signaler';
import { STREAM_UPLOAD_WORKFLOW } from '../../src/workflows/definitions';
import { startApp, type AppProcess } from '../support/app-process';
import { tempDir } from '../support/stack';
import { waitUntil } from '../support/wait';

/** The Dockerfile's HEALTHCHECK gives a probe of /metrics this long. */
const HEALTHCHECK_TIMEOUT_MS = 5000;

/**
 * The app's /metrics while its Temporal server is down: Prometheus and the container's health
 * check keep getting every metric, and the one gauge that asks Temporal says it is stale.
 */
let temporal: TemporalServer;
let app: AppProcess | undefined;

before(async () => {
  temporal = await startTemporal();
});
after(async () => {
  await app?.stop('SIGKILL');
  await temporal?.stop();
});

async function scrape(port: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
    signal: AbortSignal.timeout(HEALTHCHECK_TIMEOUT_MS),
  });
  assert.equal(response.status, 200, 'the health check passes');
  return response.text();
}

function sample(metrics: string, name: string): number | undefined {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

test('/metrics answers 200 with every metric while Temporal is down; the active-streams gauge is marked stale', async () => {
  const env = {
    // Temporal only: a workflow process needs no bucket and no files.
    ROLE: 'workflow',
    S3_BUCKET: '',
    WATCH_DIR: path.join(tempDir('metrics-outage'), 'absent'),
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    TEMPORAL_TASK_QUEUE: `metrics-outage-${process.pid}`,
    METRICS_PORT: String(await freePort()),
    TEMPORAL_METRICS_PORT: ANY_PORT,
  };
  app = startApp(env);
  await app.waitForLog((line) => line.msg === 'stream-uploader started', 120_000);

  // One running stream: its workflow waits for activities on a host queue nobody polls.
  const config = loadConfig(env, process.cwd(), { needsBucket: false });
  const connection = await Connection.connect({ address: temporal.address });
  try {
    const input: StreamUploadInput = {
      stream: streamRef('outage.mp4', { ino: 1, birthtimeMs: 1 }, ''),
      ...streamOptionsFrom(config),
      file: { size: 0, mtimeMs: Date.now() },
    };
    await new Client({ connection, namespace: temporal.namespace }).workflow.start(STREAM_UPLOAD_WORKFLOW, {
      workflowId: input.stream.workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [input],
    });
  } finally {
    await connection.close();
  }
  let fresh = '';
  await waitUntil(async () => {
    fresh = await scrape(env.METRICS_PORT);
    return sample(fresh, 'stream_uploader_active_streams') === 1;
  });
  assert.equal(sample(fresh, 'stream_uploader_active_streams_query_up'), 1, 'fresh while Temporal answers');

  await temporal.stop();
  for (const attempt of ['first', 'second']) {
    const during = await scrape(env.METRICS_PORT);
    assert.equal(sample(during, 'stream_uploader_active_streams_query_up'), 0, `${attempt} scrape: marked stale`);
    assert.equal(sample(during, 'stream_uploader_active_streams'), 1, `${attempt} scrape: the last count is kept`);
    for (const name of ['stream_uploader_chunks_uploaded_total', 'process_cpu_user_seconds_total'])
      assert.notEqual(sample(during, name), undefined, `${attempt} scrape: ${name} is still served`);
  }
  assert.equal(app.child.exitCode, null, 'the app keeps running');
});
