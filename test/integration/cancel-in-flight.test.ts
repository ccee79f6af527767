import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { progressQuery } from '../../src/workflows/definitions';
import { getObject, listKeys, objectExists, readManifestObject } from '../support/bucket';
import { recordHistory } from '../support/histories';
import { startStack, startStream, startWorker, tempDir, type TestStack, type TestWorker } from '../support/stack';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { waitUntil } from '../support/wait';

const MiB = 2 ** 20;
const CHUNK_SIZE = MiB;
/** Slow enough that a chunk's PUT is seen half sent, fast enough for the test to move on. */
const THROTTLE_BYTES_PER_SECOND = 512 * 1024;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Rejects with `what` unless `promise` settles within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The README's Cancel: "the in-flight upload is cancelled through its heartbeat and the manifest is
 * written with status cancelled, listing exactly the chunks in the bucket". Here the cancel comes
 * while a chunk's PUT is half way through the link to MinIO (a TCP proxy that holds it there),
 * after the same follow listed an earlier chunk in the live manifest: the cancel keeps that one.
 */
describe('cancelling a stream while a chunk PUT is in flight', () => {
  let stack: TestStack;
  let proxy: TcpProxy;
  let worker: TestWorker;
  let watchDir: string;

  before(async () => {
    stack = await startStack();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: stack.minio.port });
    watchDir = tempDir('cancel-in-flight');
    worker = await startWorker(stack, {
      WATCH_DIR: watchDir,
      CHUNK_SIZE: String(CHUNK_SIZE),
      S3_ENDPOINT: proxy.endpoint,
      // Longer than the test: only the cancel can end the stalled PUT.
      S3_REQUEST_TIMEOUT: '10m',
    });
  });
  after(async () => {
    // The link first: an upload still stalled in it (a failed run) ends, and so the worker can stop.
    await proxy?.close();
    await worker?.stop();
    await stack?.stop();
  });

  test('the PUT is aborted, the workflow ends cancelled, and metadata.json lists exactly the chunks in the bucket', async () => {
    const file = path.join(watchDir, 'cam.mp4');
    fs.writeFileSync(file, randomBytes(2 * CHUNK_SIZE + 100));
    const { handle, stream } = await startStream(stack, worker, 'cam.mp4', {
      idleTimeoutMs: 60_000,
      manifestIntervalMs: 0,
    });
    const chunkKey = (index: number) => `${stream.prefix}/chunks/${String(index).padStart(6, '0')}`;
    const exists = (key: string) => objectExists(stack.s3, stack.bucket, key);
    await waitUntil(async () => (await handle.query(progressQuery)).chunksUploaded >= 2, 30_000);
    const liveManifest = () => readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);

    // The recording grows by a chunk: the follow sends it and lists it in the live manifest.
    fs.appendFileSync(file, randomBytes(CHUNK_SIZE));
    await waitUntil(async () => (await liveManifest()).chunks.some((chunk) => chunk.index === 2), 30_000);

    // And by one more, which the follow sends slowly.
    proxy.throttleUp(THROTTLE_BYTES_PER_SECOND);
    const bytesBefore = proxy.stats().bytesUp;
    const sentSince = () => proxy.stats().bytesUp - bytesBefore;
    fs.appendFileSync(file, randomBytes(CHUNK_SIZE));
    // Chunk 3's body is on its way (its HEAD and headers are a few hundred bytes).
    await waitUntil(() => sentSince() > 128 * 1024, 30_000);
    proxy.setMode('stall');
    assert.ok(sentSince() < CHUNK_SIZE, `chunk 3's PUT is only part sent (${sentSince()} bytes)`);
    assert.equal(await exists(chunkKey(3)), false, 'chunk 3 is in flight, not stored');
    const followHeartbeat = async () =>
      ((await handle.describe()).raw.pendingActivities ?? []).some(
        (activity) => activity.activityType?.name === 'followFile' && activity.lastHeartbeatTime,
      );
    await waitUntil(followHeartbeat, 15_000);

    await handle.cancel();
    // The cancel reaches the follow through its heartbeat; it aborts the PUT, and the workflow
    // waits for that before writing the manifest (through the link once it flows again).
    const followPending = async () =>
      ((await handle.describe()).raw.pendingActivities ?? []).some(
        (activity) => activity.activityType?.name === 'followFile',
      );
    await waitUntil(
      async () => !(await followPending()),
      30_000,
      () => JSON.stringify(proxy.stats()),
    );
    proxy.throttleUp(null);
    proxy.setMode('pass');
    await assert.rejects(within(handle.result(), 30_000, 'the cancelled workflow to end'), WorkflowFailedError);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    recordHistory(handle, stack.temporal.address, 'cancelled-during-follow');

    const manifest = await liveManifest();
    assert.equal(manifest.status, 'cancelled');
    assert.equal(manifest.chunkCount, 3, "the chunks stored before the cancel are listed, the follow's too");
    assert.deepEqual(
      await listKeys(stack.s3, stack.bucket, `${stream.prefix}/chunks/`),
      manifest.chunks.map((chunk) => chunk.key),
      'the bucket holds exactly the listed chunks',
    );
    const bytes = fs.readFileSync(file);
    for (const chunk of manifest.chunks) {
      const stored = await getObject(stack.s3, stack.bucket, chunk.key);
      assert.equal(stored.length, chunk.size, `chunk ${chunk.index} is whole`);
      assert.equal(sha256(stored), chunk.sha256, `chunk ${chunk.index} is stored with its listed sha256`);
      assert.equal(chunk.sha256, sha256(bytes.subarray(chunk.offset, chunk.offset + chunk.size)));
    }
    assert.equal(await exists(chunkKey(3)), false, 'the aborted PUT left nothing behind');
  });
});
