import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { freePort } from '../../scripts/local-servers';
import type { ManifestWithChunks } from '../../src/stream/manifest';
import { streamRef } from '../../src/stream/identity';
import { startApp, type AppProcess } from '../support/app-process';
import { downloadStreamSha256, readManifestObject } from '../support/bucket';
import { ffprobeDurationSeconds, makeMp4, recordLive, sha256File } from '../support/media';
import { startStack, tempDir, type TestStack } from '../support/stack';
import { waitUntil } from '../support/wait';

const CHUNK_SIZE = 256 * 1024;
const IDLE_TIMEOUT_MS = 2000;
const WEBHOOK_TOKEN = 'e2e-webhook-token-4f1c';
const WEBHOOK_PASSWORD = 'e2e-hook-password-9a7d';

/**
 * The whole product as a user runs it: the app process watching a directory, a real Temporal
 * server, a real S3 server, and recordings written by ffmpeg while the app uploads them.
 */
describe('end to end: the app uploads recordings dropped into its watched directory', () => {
  let stack: TestStack;
  let watchDir: string;
  let env: Record<string, string>;
  let app: AppProcess;
  /** The consumer's webhook: what it was sent, with the Authorization header it came with. */
  let consumer: http.Server;
  const delivered: Array<{ url: string; authorization?: string; body: string }> = [];

  before(async () => {
    stack = await startStack();
    watchDir = tempDir('e2e');
    const consumerPort = await freePort();
    consumer = http.createServer((request, response) => {
      let body = '';
      request.on('data', (data) => (body += data));
      request.on('end', () => {
        delivered.push({ url: request.url ?? '', authorization: request.headers.authorization, body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => consumer.listen(consumerPort, '127.0.0.1', resolve));
    env = stack.env({
      // Secrets in the URL: a token and Basic credentials, which must reach no history and no log.
      COMPLETION_WEBHOOK_URL: `http://hook-user:${WEBHOOK_PASSWORD}@127.0.0.1:${consumerPort}/hook?token=${WEBHOOK_TOKEN}`,
      WATCH_DIR: watchDir,
      CHUNK_SIZE: String(CHUNK_SIZE),
      STREAM_IDLE_TIMEOUT: `${IDLE_TIMEOUT_MS}ms`,
      WATCH_COALESCE_INTERVAL: '250ms',
      S3_PREFIX: 'e2e',
      TEMPORAL_TASK_QUEUE: `e2e-${process.pid}`,
      METRICS_PORT: String(await freePort()),
      TEMPORAL_METRICS_PORT: String(await freePort()),
      SHUTDOWN_GRACE_TIME: '10s',
      LOG_LEVEL: 'debug',
    });
  });
  after(async () => {
    await app?.stop('SIGKILL');
    await stack?.stop();
    consumer?.close();
  });

  function prefixOf(relPath: string): string {
    const stats = fs.statSync(path.join(watchDir, relPath));
    return streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, 'e2e').prefix;
  }

  async function waitForManifest(
    relPath: string,
    timeoutMs = 60_000,
  ): Promise<{ manifest: ManifestWithChunks; seenAt: number }> {
    const key = `${prefixOf(relPath)}/metadata.json`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const manifest = await readManifestObject(stack.s3, stack.bucket, key);
        if (manifest.status === 'complete') return { manifest, seenAt: Date.now() };
      } catch (err) {
        if ((err as { name?: string }).name !== 'NoSuchKey') throw err;
      }
      if (Date.now() > deadline) throw new Error(`no complete manifest for ${relPath} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  const files = ['cam1/regular.mp4', 'cam1/fragmented.mp4', 'live-regular.mp4', 'live fragmented ü.mp4'];

  test('uploads several files at once, two of them recorded live, byte for byte', async () => {
    app = startApp(env, path.join(watchDir, '..', 'e2e-app.log'));
    await app.waitForLog((line) => line.msg === 'watching for recordings');

    // Finished files arrive by rename, as a copy tool would drop them; live ones grow in place.
    const staging = tempDir('staging');
    await Promise.all([
      makeMp4(path.join(staging, 'regular.mp4'), { seconds: 4, kind: 'regular' }),
      makeMp4(path.join(staging, 'fragmented.mp4'), { seconds: 4, kind: 'fragmented' }),
    ]);
    fs.mkdirSync(path.join(watchDir, 'cam1'));
    fs.renameSync(path.join(staging, 'regular.mp4'), path.join(watchDir, 'cam1/regular.mp4'));
    fs.renameSync(path.join(staging, 'fragmented.mp4'), path.join(watchDir, 'cam1/fragmented.mp4'));
    const live = [
      recordLive(path.join(watchDir, 'live-regular.mp4'), { seconds: 8, kind: 'regular', bitrate: '3M' }),
      recordLive(path.join(watchDir, 'live fragmented ü.mp4'), { seconds: 8, kind: 'fragmented', bitrate: '3M' }),
    ];
    await Promise.all(live.map((recording) => recording.done));

    const figures = [];
    for (const relPath of files) {
      const file = path.join(watchDir, relPath);
      const { manifest, seenAt } = await waitForManifest(relPath);
      const lastWrite = fs.statSync(file).mtimeMs;
      assert.equal(manifest.source.path, relPath);
      assert.equal(manifest.totalSize, fs.statSync(file).size);
      assert.equal(
        await downloadStreamSha256(stack.s3, stack.bucket, manifest),
        await sha256File(file),
        `${relPath}: bucket bytes equal the file`,
      );
      const probed = await ffprobeDurationSeconds(file);
      assert.ok(
        Math.abs(manifest.durationSeconds! - probed) < 0.1,
        `${relPath}: duration ${manifest.durationSeconds} vs ffprobe ${probed}`,
      );
      let historyEvents: number | undefined;
      if (relPath.startsWith('live')) {
        // Before the last write, with no margin: a slow machine still passes, while an app that
        // uploads only once the file is idle (after the last write) never does.
        const duringRecording = manifest.chunks.filter((chunk) => Date.parse(chunk.uploadedAt) < lastWrite);
        assert.ok(
          duringRecording.length >= 3,
          `${relPath}: ${duringRecording.length} chunks went up while it was being recorded`,
        );
        // Followed on its host, a live file costs its history a few events per chunk (the bench
        // measures it); a signal and an activity round trip per chunk, as before the follow, cost
        // about forty. The bound sits between the two, so that only the latter fails.
        const stats = fs.statSync(file);
        const { workflowId } = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, 'e2e');
        historyEvents = (await stack.client.workflow.getHandle(workflowId).describe()).historyLength;
        assert.ok(
          historyEvents / manifest.chunkCount < 20,
          `${relPath}: ${historyEvents} history events for ${manifest.chunkCount} chunks`,
        );
      }
      figures.push({
        relPath,
        bytes: manifest.totalSize,
        chunks: manifest.chunkCount,
        lastWriteToManifestMs: Math.round(seenAt - lastWrite),
        historyEvents,
      });
    }
    console.log('e2e figures', JSON.stringify(figures));

    const streamLines = app.logs.filter((line) => 'streamId' in line);
    assert.ok(streamLines.length > 0);
    for (const line of streamLines)
      assert.ok(line.workflowId, `log line about a stream carries its workflowId: ${JSON.stringify(line)}`);
    assert.deepEqual(app.strayLines, [], 'stdout is JSON lines only');
    assert.ok(!JSON.stringify(app.logs).includes(env.AWS_SECRET_ACCESS_KEY), 'the secret key never reaches a log line');
    for (const secret of [WEBHOOK_TOKEN, WEBHOOK_PASSWORD]) {
      assert.ok(!JSON.stringify(app.logs).includes(secret), 'the webhook URL never reaches a log line');
      assert.ok(!app.strayLines.join('\n').includes(secret));
    }
    // Every stream's history, every run: the webhook URL is the worker's, never in a payload.
    for await (const execution of stack.client.workflow.list({ query: `TaskQueue = '${env.TEMPORAL_TASK_QUEUE}'` })) {
      const history = JSON.stringify(
        await stack.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory(),
      );
      for (const secret of [WEBHOOK_TOKEN, WEBHOOK_PASSWORD])
        assert.ok(!history.includes(secret), `${execution.workflowId}: the webhook URL never reaches a history`);
    }
    await waitUntil(() => delivered.length >= files.length);
    assert.deepEqual(
      new Set(delivered.map(({ url, authorization }) => `${url} ${authorization}`)),
      new Set([
        `/hook?token=${WEBHOOK_TOKEN} Basic ${Buffer.from(`hook-user:${WEBHOOK_PASSWORD}`).toString('base64')}`,
      ]),
      'each complete stream was delivered, its credentials in the Authorization header',
    );

    await assertMetricsMatchUploads(files.length);
    assert.equal(await app.stop('SIGTERM'), 0, 'graceful shutdown exits 0');
  });

  /** Scrapes the app's Prometheus endpoint and checks it against what the logs say was sent. */
  async function assertMetricsMatchUploads(streams: number) {
    const sent = app.logs.filter((line) => line.msg === 'chunk uploaded');
    const text = await (await fetch(`http://127.0.0.1:${env.METRICS_PORT}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
      assert.ok(line, `${series} is exported`);
      return Number(line.split(' ')[1]);
    };
    assert.equal(value('stream_uploader_chunks_uploaded_total'), sent.length);
    assert.equal(
      value('stream_uploader_bytes_uploaded_total'),
      sent.reduce((sum, line) => sum + Number(line.bytes), 0),
    );
    assert.equal(value('stream_uploader_chunk_upload_duration_seconds_count'), sent.length);
    assert.equal(value('stream_uploader_chunk_lag_seconds_count'), sent.length);
    assert.equal(value('stream_uploader_streams_finished_total{status="complete"}'), streams);
    assert.equal(value('stream_uploader_finalize_latency_seconds_count'), streams);
    assert.equal(value('stream_uploader_active_streams'), 0);
    assert.ok(value('process_resident_memory_bytes') > 0);
    assert.ok(!text.includes('streamId') && !text.includes('.mp4'), 'no stream ids or paths as labels');
    const sdk = await (await fetch(`http://127.0.0.1:${env.TEMPORAL_METRICS_PORT}/metrics`)).text();
    assert.match(sdk, /temporal_activity_execution_latency/, "the Temporal SDK's worker metrics are exported");
  }

  test('restarted over finished recordings, it uploads nothing again', async () => {
    const before = await Promise.all(files.map((relPath) => chunkTimes(relPath)));
    app = startApp(env, path.join(watchDir, '..', 'e2e-app.log'));
    await app.waitForLog((line) => line.msg === 'watching for recordings' && line.existingFiles === files.length);
    for (const relPath of files) {
      await app.waitForLog(
        (line) =>
          line.msg === 'stream already uploaded and unchanged' && String(line.streamId).startsWith(`${relPath}@`),
      );
    }
    assert.equal(app.logs.filter((line) => line.msg === 'chunk uploaded').length, 0);
    assert.deepEqual(await Promise.all(files.map((relPath) => chunkTimes(relPath))), before);
    assert.equal(await app.stop('SIGTERM'), 0);
  });

  async function chunkTimes(relPath: string): Promise<number[]> {
    const manifest = await readManifestObject(stack.s3, stack.bucket, `${prefixOf(relPath)}/metadata.json`);
    return Promise.all(
      manifest.chunks.map(async (chunk) =>
        (await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: chunk.key }))).LastModified!.getTime(),
      ),
    );
  }
});
