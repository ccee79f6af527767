import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { downloadStreamSha256, readManifestObject } from '../support/bucket';
import { sha256File } from '../support/media';
import { startStack, startStream, startWorker, tempDir, type TestStack } from '../support/stack';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';

const LIMIT = 1024 * 1024;
const CHUNK_SIZE = 256 * 1024;
/** Three backlogs of 16 MiB: 48 s at the limit, so the 30 s window below sees only the limit. */
const FILES = 3;
const FILE_SIZE = 16 * 2 ** 20;
/** The bucket starts full (one second of bytes); the window begins after it. */
const WINDOW_START_MS = 5_000;
const WINDOW_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * UPLOAD_RATE_LIMIT, measured from outside the app: the bytes that cross a TCP proxy between the
 * app and MinIO (chunks, and the few requests and manifests around them) over 30 s.
 */
describe('UPLOAD_RATE_LIMIT', () => {
  let stack: TestStack;
  let proxy: TcpProxy;
  const watchDir = tempDir('upload-rate');
  before(async () => {
    stack = await startStack();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: stack.minio.port });
  });
  after(async () => {
    await proxy?.close();
    await stack?.stop();
  });

  test('holds the whole process to the limit over 30 s, within 10%, and the chunks wait in their lag', async () => {
    const worker = await startWorker(stack, {
      WATCH_DIR: watchDir,
      S3_ENDPOINT: proxy.endpoint,
      UPLOAD_RATE_LIMIT: '1MiB/s',
      UPLOAD_CONCURRENCY: '4',
    });
    try {
      const files = Array.from({ length: FILES }, (_, i) => `backlog-${i}.mp4`);
      for (const name of files) fs.writeFileSync(path.join(watchDir, name), randomBytes(FILE_SIZE));
      const streams = await Promise.all(
        files.map((name) => startStream(stack, worker, name, { chunkSize: CHUNK_SIZE, idleTimeoutMs: 500 })),
      );
      await sleep(WINDOW_START_MS);
      const start = { bytes: proxy.stats().bytesUp, at: performance.now() };
      await sleep(WINDOW_MS);
      const bytes = proxy.stats().bytesUp - start.bytes;
      const seconds = (performance.now() - start.at) / 1000;
      const rate = bytes / seconds;
      console.log(`achieved ${Math.round(rate)} B/s over ${seconds.toFixed(1)} s; limit ${LIMIT} B/s`);
      assert.ok(Math.abs(rate - LIMIT) <= LIMIT * 0.1, `${Math.round(rate)} B/s is not within 10% of ${LIMIT} B/s`);

      for (const [i, { handle, stream }] of streams.entries()) {
        assert.equal((await handle.result()).status, 'complete');
        const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);
        assert.equal(
          await downloadStreamSha256(stack.s3, stack.bucket, manifest),
          await sha256File(path.join(watchDir, files[i])),
        );
      }
      // 192 chunks at 4 a second: on average a chunk waits a good part of the run for its turn.
      const lag = await worker.metrics.chunkLag.get();
      const sum = lag.values.find((value) => value.metricName?.endsWith('_sum'))?.value ?? 0;
      const count = lag.values.find((value) => value.metricName?.endsWith('_count'))?.value ?? 0;
      assert.equal(count, (FILES * FILE_SIZE) / CHUNK_SIZE);
      assert.ok(sum / count > 10, `mean chunk lag ${(sum / count).toFixed(1)} s: the throttled wait counts in it`);
    } finally {
      await worker.stop();
    }
  });
});
