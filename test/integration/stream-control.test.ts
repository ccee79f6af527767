import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { createBucket } from '../../scripts/s3-servers';
import { StreamPathKey, StreamStatusKey } from '../../src/stream/search-attributes';
import type { StreamUploadInput } from '../../src/stream/types';
import { fileChangedSignal, pauseSignal, progressQuery, resumeSignal } from '../../src/workflows/definitions';
import { downloadStreamSha256, listKeys, readManifestObject } from '../support/bucket';
import { sha256File } from '../support/media';
import { waitUntil } from '../support/wait';
import { startStack, startStream, startWorker, tempDir, type TestStack, type TestWorker } from '../support/stack';

const CHUNK_SIZE = 64 * 1024;

/** Operators steering streams: pause, resume, blocked-then-resumed, the live manifest, search attributes. */
describe('steering a stream', () => {
  let stack: TestStack;
  let watchDir: string;
  let worker: Awaited<ReturnType<typeof startWorker>>;

  before(async () => {
    stack = await startStack();
    watchDir = tempDir('control');
    worker = await startWorker(stack, { WATCH_DIR: watchDir, CHUNK_SIZE: String(CHUNK_SIZE) });
  });
  after(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  function writeFile(relPath: string, chunks: number, extra = 0): string {
    const file = path.join(watchDir, relPath);
    fs.writeFileSync(file, Buffer.from(Array.from({ length: chunks * CHUNK_SIZE + extra }, (_, i) => (i * 31) % 256)));
    return file;
  }

  function start(relPath: string, extra: Partial<StreamUploadInput> = {}, on: TestWorker = worker) {
    return startStream(
      stack,
      on,
      relPath,
      { idleTimeoutMs: 1000, ...extra },
      { typedSearchAttributes: [{ key: StreamPathKey, value: relPath }] },
    );
  }

  test('nothing is uploaded while paused; everything after resume', async () => {
    const file = writeFile('paused.mp4', 2);
    const { handle, stream } = await start('paused.mp4', { idleTimeoutMs: 60_000 });
    await waitUntil(async () => (await handle.query(progressQuery)).chunksUploaded === 2);
    await handle.signal(pauseSignal);
    await waitUntil(async () => (await handle.query(progressQuery)).status === 'paused');

    fs.appendFileSync(file, Buffer.alloc(CHUNK_SIZE * 3 + 100, 7));
    const stats = fs.statSync(file);
    await handle.signal(fileChangedSignal, { size: stats.size, mtimeMs: stats.mtimeMs });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal((await handle.query(progressQuery)).chunksUploaded, 2, 'no chunk while paused');
    assert.equal((await listKeys(stack.s3, stack.bucket, `${stream.prefix}/chunks/`)).length, 2);

    await handle.signal(resumeSignal);
    await waitUntil(async () => (await handle.query(progressQuery)).chunksUploaded === 5);
    await handle.cancel();
    await handle.result().catch(() => undefined);
    const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);
    assert.equal(manifest.chunkCount, 5);
  });

  test('a stream whose bucket is missing waits, blocked, and resumes from its checkpoint once the bucket exists', async () => {
    const blockedWorker = await startWorker(stack, {
      WATCH_DIR: watchDir,
      CHUNK_SIZE: String(CHUNK_SIZE),
      S3_BUCKET: 'created-later',
    });
    try {
      const file = writeFile('blocked.mp4', 3, 10);
      const { handle, stream } = await start('blocked.mp4', {}, blockedWorker);
      await waitUntil(async () => (await handle.query(progressQuery)).status === 'blocked');
      const progress = await handle.query(progressQuery);
      assert.equal(progress.blockedBy?.type, 'BucketMissing');
      await waitUntil(async () => (await handle.describe()).typedSearchAttributes.get(StreamStatusKey) === 'blocked');

      await createBucket(stack.minio, 'created-later');
      await handle.signal(resumeSignal);
      const summary = await handle.result();
      assert.equal(summary.status, 'complete');
      const manifest = await readManifestObject(stack.s3, 'created-later', `${stream.prefix}/metadata.json`);
      assert.equal(await downloadStreamSha256(stack.s3, 'created-later', manifest), await sha256File(file));
      assert.equal((await handle.describe()).typedSearchAttributes.get(StreamStatusKey), 'complete');
    } finally {
      await blockedWorker.stop();
    }
  });

  test('a stream blocked by S3 (access denied, then a storage class the server refuses) completes once the operator fixes the configuration and resumes it', async () => {
    // The operator's fix is a configuration change, so each attempt is another app (worker) on
    // the stream's task queue, as a restarted app would be.
    const queue = `blocked-by-s3-${process.pid}`;
    const withApp = async <T>(overrides: Record<string, string>, body: (app: TestWorker) => Promise<T>) => {
      const app = await startWorker(stack, {
        WATCH_DIR: watchDir,
        CHUNK_SIZE: String(CHUNK_SIZE),
        TEMPORAL_TASK_QUEUE: queue,
        ...overrides,
      });
      try {
        return await body(app);
      } finally {
        await app.stop();
      }
    };
    const file = writeFile('s3-refused.mp4', 3, 10);
    const { handle, stream } = await withApp({ AWS_SECRET_ACCESS_KEY: 'not-the-secret-key' }, async (denied) => {
      const started = await start('s3-refused.mp4', {}, denied);
      await waitUntil(async () => (await started.handle.query(progressQuery)).blockedBy?.type === 'AccessDenied');
      assert.equal((await started.handle.query(progressQuery)).status, 'blocked');
      return started;
    });
    await withApp({ S3_STORAGE_CLASS: 'GLACIER_IR' }, async () => {
      await handle.signal(resumeSignal);
      await waitUntil(async () => (await handle.query(progressQuery)).blockedBy?.type === 'S3Rejected');
      assert.equal((await handle.query(progressQuery)).status, 'blocked');
    });
    await withApp({}, async () => {
      await handle.signal(resumeSignal);
      assert.equal((await handle.result()).status, 'complete');
    });
    const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);
    assert.equal(await downloadStreamSha256(stack.s3, stack.bucket, manifest), await sha256File(file));
  });

  test('a live stream rewrites its manifest at most every 5 s by default, and the manifest catches up with the file', async () => {
    const file = writeFile('live-interval.mp4', 1);
    const { stream } = await start('live-interval.mp4', { idleTimeoutMs: 60_000 });
    const key = `${stream.prefix}/metadata.json`;
    const versions = new Set<string>();
    const started = Date.now();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const head = await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key })).catch(() => null);
        if (head?.ETag) versions.add(head.ETag);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      // A recording growing by a chunk every 600 ms: twelve chunks in about seven seconds.
      for (let i = 0; i < 12; i++) {
        await new Promise((resolve) => setTimeout(resolve, 600));
        fs.appendFileSync(file, Buffer.alloc(CHUNK_SIZE, i));
      }
      // Current within the interval: generous here (a slow machine must pass), far below the
      // follow's end (16 chunks or 5 minutes), which is when the manifest would catch up otherwise.
      await waitUntil(
        async () => (await readManifestObject(stack.s3, stack.bucket, key).catch(() => null))?.chunkCount === 13,
        20_000,
      );
    } finally {
      watching = false;
      await watch;
    }
    const seconds = (Date.now() - started) / 1000;
    // One write when the stream starts, one when its follow uploads a first chunk, then one per 5 s.
    assert.ok(
      versions.size <= 3 + Math.ceil(seconds / 5),
      `${versions.size} manifest versions in ${seconds.toFixed(1)} s: at most one per 5 s`,
    );
  });

  test('the manifest is kept current while the stream is live, and streams are findable by path', async () => {
    writeFile('live-manifest.mp4', 3);
    const { handle, stream } = await start('live-manifest.mp4', { idleTimeoutMs: 60_000, manifestIntervalMs: 0 });
    await waitUntil(async () => {
      const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`).catch(
        () => null,
      );
      return manifest?.status === 'recording' && manifest.chunkCount === 3;
    });
    // The Web UI's details: the phase, the progress, and while a follow runs, where its count is.
    const details = async () =>
      (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    await waitUntil(async () => /following the file since/.test(await details()));
    assert.match(await details(), /^\*\*recording\*\*\n\n3 chunks \(192\.0 KiB\) of 192\.0 KiB uploaded/);
    assert.match(await details(), /heartbeat details of its followFile activity/);
    await waitUntil(async () => {
      const found = [];
      for await (const execution of stack.client.workflow.list({
        query: `StreamPath = 'live-manifest.mp4' AND ExecutionStatus = 'Running'`,
      }))
        found.push(execution.workflowId);
      return found.includes(handle.workflowId);
    });
    await handle.cancel();
    await handle.result().catch(() => undefined);
  });
});
