import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ANY_PORT } from '../../scripts/local-servers';
import { streamRef } from '../../src/stream/identity';
import { startApp, type AppProcess } from '../support/app-process';
import { downloadStreamSha256, waitForCompleteManifest } from '../support/bucket';
import { makeMp4, sha256File } from '../support/media';
import { startStack, tempDir, type TestStack } from '../support/stack';

/**
 * The layout of many camera hosts: an edge process beside each host's files (the watcher and
 * the activities of its host queue, no workflow worker) and one workflow process (workflows
 * only, no file and no bucket), all on one real Temporal server and one real S3 server.
 */
let stack: TestStack;
const apps: AppProcess[] = [];

before(async () => {
  stack = await startStack();
});
after(async () => {
  for (const app of apps) await app.stop('SIGKILL');
  await stack?.stop();
});

async function start(role: string, env: Record<string, string>): Promise<AppProcess> {
  const app = startApp(
    stack.env({
      ROLE: role,
      TEMPORAL_TASK_QUEUE: `roles-${process.pid}`,
      STREAM_IDLE_TIMEOUT: '1s',
      CHUNK_SIZE: '256KiB',
      S3_PREFIX: 'roles',
      METRICS_PORT: ANY_PORT,
      TEMPORAL_METRICS_PORT: ANY_PORT,
      ...env,
    }),
  );
  apps.push(app);
  await app.waitForLog((line) => line.msg === 'stream-uploader started', 120_000);
  return app;
}

test('two edge processes and one workflow process upload each host its own files, byte for byte', async () => {
  // No bucket, no watched directory: a workflow process touches neither.
  const workflows = await start('workflow', { S3_BUCKET: '', WATCH_DIR: path.join(tempDir('roles'), 'absent') });
  const edges = await Promise.all(
    ['edge-a', 'edge-b'].map(async (host) => {
      const watchDir = tempDir(`roles-${host}`);
      return { host, watchDir, app: await start('edge', { HOST_ID: host, WATCH_DIR: watchDir }) };
    }),
  );
  for (const { host, watchDir } of edges)
    await makeMp4(path.join(watchDir, `${host}.mp4`), { seconds: 2, kind: 'regular' });

  for (const { host, watchDir, app } of edges) {
    const file = path.join(watchDir, `${host}.mp4`);
    const stats = fs.statSync(file);
    const ref = streamRef(`${host}.mp4`, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, 'roles');
    const manifest = await waitForCompleteManifest(stack.s3, stack.bucket, ref.prefix, 60_000);
    assert.equal(await downloadStreamSha256(stack.s3, stack.bucket, manifest), await sha256File(file));
    const uploaded = app.logs.filter(
      (line) => line.msg === 'chunk uploaded' && String(line.streamId).startsWith(`${host}.mp4@`),
    );
    assert.ok(uploaded.length > 0, `${host}'s own edge uploaded its chunks`);
    for (const other of edges.filter((edge) => edge.host !== host)) {
      assert.ok(
        !other.app.logs.some((line) => String(line.streamId ?? '').startsWith(`${host}.mp4@`)),
        `${other.host} never touched ${host}'s stream`,
      );
    }
  }
  assert.ok(!workflows.logs.some((line) => line.msg === 'chunk uploaded'), 'the workflow process uploads nothing');
  const started = (app: AppProcess) => app.logs.find((line) => line.msg === 'stream-uploader started');
  assert.equal(started(workflows)?.role, 'workflow');
  for (const { app } of edges) assert.equal(started(app)?.role, 'edge');
});
