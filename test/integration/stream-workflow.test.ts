import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { streamRef } from '../../src/stream/identity';
import type { StreamRef, StreamUploadInput } from '../../src/stream/types';
import { fileChangedSignal, progressQuery } from '../../src/workflows/definitions';
import type { ManifestSummary } from '../../src/stream/manifest';
import { recordHistory } from '../support/histories';
import { downloadStreamSha256, listKeys, readManifestObject } from '../support/bucket';
import { ffprobeDurationSeconds, makeMp4, sha256File } from '../support/media';
import { waitUntil } from '../support/wait';
import { startStack, startStream as startTestStream, startWorker, tempDir, type TestStack } from '../support/stack';

const CHUNK_SIZE = 64 * 1024;

describe('StreamUploadWorkflow on a real Temporal server and a real S3 server', () => {
  let stack: TestStack;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  let watchDir: string;

  before(async () => {
    stack = await startStack();
    watchDir = tempDir('workflow');
    worker = await startWorker(stack, { WATCH_DIR: watchDir, CHUNK_SIZE: String(CHUNK_SIZE), S3_PREFIX: 'wf' });
  });
  after(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  function refOf(relPath: string): StreamRef {
    const stats = fs.statSync(path.join(watchDir, relPath));
    return streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, 'wf');
  }

  async function startStream(relPath: string, extra: Partial<StreamUploadInput> = {}) {
    return (await startTestStream(stack, worker, relPath, { idleTimeoutMs: 1000, ...extra })).handle;
  }

  async function assertBucketHoldsFile(summary: ManifestSummary, relPath: string) {
    const manifest = await readManifestObject(stack.s3, stack.bucket, summary.manifestKey);
    const file = path.join(watchDir, relPath);
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.totalSize, fs.statSync(file).size);
    assert.equal(manifest.chunkCount, Math.ceil(manifest.totalSize / CHUNK_SIZE));
    assert.equal(await downloadStreamSha256(stack.s3, stack.bucket, manifest), await sha256File(file));
    const chunkKeys = await listKeys(stack.s3, stack.bucket, `${refOf(relPath).prefix}/chunks/`);
    assert.deepEqual(
      chunkKeys,
      manifest.chunks.map((chunk) => chunk.key),
      'the bucket holds exactly the listed chunks',
    );
    return manifest;
  }

  test('uploads a regular MP4 byte for byte, with its media duration', async () => {
    await makeMp4(path.join(watchDir, 'regular.mp4'), { seconds: 3, kind: 'regular' });
    const handle = await startStream('regular.mp4');
    const manifest = await assertBucketHoldsFile(await handle.result(), 'regular.mp4');
    recordHistory(handle, stack.temporal.address, 'regular');
    assert.ok(manifest.chunkCount > 3, `several chunks (${manifest.chunkCount})`);
    const probed = await ffprobeDurationSeconds(path.join(watchDir, 'regular.mp4'));
    assert.ok(Math.abs(manifest.durationSeconds! - probed) < 0.1, `${manifest.durationSeconds} vs ffprobe ${probed}`);
  });

  test('a path too long for a workflow id (255 bytes here, as in compose) and for S3 keys uploads, named by its end and a hash', async () => {
    const folders = Array.from({ length: 6 }, (_, i) => `${'folder-with-a-long-name-'.repeat(8)}${i}`);
    const relPath = [...folders, 'camera 7 recording.mp4'].join('/');
    fs.mkdirSync(path.join(watchDir, ...folders), { recursive: true });
    await makeMp4(path.join(watchDir, relPath), { seconds: 2, kind: 'fragmented' });
    assert.ok(Buffer.byteLength(relPath) > 1024, 'longer than an S3 key may be');
    const handle = await startStream(relPath);
    assert.ok(Buffer.byteLength(handle.workflowId) <= 255, handle.workflowId);
    const manifest = await assertBucketHoldsFile(await handle.result(), relPath);
    assert.equal(manifest.source.path, relPath, 'the manifest keeps the whole path');
    assert.match(manifest.chunks[0].key, /camera 7 recording\.mp4~[0-9a-f]{16}\//);
  });

  test('reads the duration of a fragmented MP4 from its fragments', async () => {
    await makeMp4(path.join(watchDir, 'fragmented.mp4'), { seconds: 3, kind: 'fragmented' });
    const summary = await (await startStream('fragmented.mp4')).result();
    const manifest = await assertBucketHoldsFile(summary, 'fragmented.mp4');
    const probed = await ffprobeDurationSeconds(path.join(watchDir, 'fragmented.mp4'));
    assert.ok(Math.abs(manifest.durationSeconds! - probed) < 0.1, `${manifest.durationSeconds} vs ffprobe ${probed}`);
  });

  test('a zero-byte file completes with no chunks', async () => {
    fs.writeFileSync(path.join(watchDir, 'empty.mp4'), '');
    const summary = await (await startStream('empty.mp4')).result();
    const manifest = await assertBucketHoldsFile(summary, 'empty.mp4');
    assert.equal(manifest.chunkCount, 0);
    assert.equal(manifest.durationSeconds, null);
  });

  test('a file that is not an MP4 still uploads, with no duration', async () => {
    fs.writeFileSync(path.join(watchDir, 'not-video.mp4'), Buffer.alloc(CHUNK_SIZE * 2 + 17, 'x'));
    const summary = await (await startStream('not-video.mp4')).result();
    const manifest = await assertBucketHoldsFile(summary, 'not-video.mp4');
    assert.equal(manifest.chunkCount, 3);
    assert.equal(manifest.chunks[2].size, 17, 'the tail is shorter than a chunk and is kept');
    assert.equal(manifest.durationSeconds, null);
  });

  test('starting a finished, unchanged stream again uploads nothing', async () => {
    await makeMp4(path.join(watchDir, 'again.mp4'), { seconds: 1, kind: 'regular' });
    const first = await (await startStream('again.mp4')).result();
    const manifest = await readManifestObject(stack.s3, stack.bucket, first.manifestKey);
    const before = await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: manifest.chunks[0].key }));

    const handle = await startStream('again.mp4');
    const second = await handle.result();
    assert.deepEqual(second, first);
    recordHistory(handle, stack.temporal.address, 'already-complete');
    const history = await handle.fetchHistory();
    const activities = history.events!.flatMap(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
    );
    assert.deepEqual(activities, ['openStream']);
    const afterHead = await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: manifest.chunks[0].key }));
    assert.equal(afterHead.LastModified?.getTime(), before.LastModified?.getTime());
  });

  test('a file rewritten after its chunks went up (a +faststart second pass) ends up byte for byte', async () => {
    const file = path.join(watchDir, 'rewritten.mp4');
    await makeMp4(file, { seconds: 3, kind: 'regular' });
    const faststart = path.join(tempDir('faststart'), 'fs.mp4');
    await makeMp4(faststart, { seconds: 3, kind: 'faststart' });
    const handle = await startStream('rewritten.mp4', { idleTimeoutMs: 3000 });
    await waitUntil(async () => (await handle.query(progressQuery)).chunksUploaded >= 3);

    // Same inode, new bytes: what ffmpeg's faststart pass does to the file it recorded.
    fs.writeFileSync(file, fs.readFileSync(faststart));
    const stats = fs.statSync(file);
    await handle.signal(fileChangedSignal, { size: stats.size, mtimeMs: stats.mtimeMs });
    await assertBucketHoldsFile(await handle.result(), 'rewritten.mp4');
    recordHistory(handle, stack.temporal.address, 'rewritten');
  });

  test('a file deleted mid-stream ends with a failed manifest listing what was uploaded', async () => {
    const file = path.join(watchDir, 'deleted.mp4');
    fs.writeFileSync(file, Buffer.alloc(CHUNK_SIZE * 3 + 5, 'd'));
    const stream = refOf('deleted.mp4');
    const handle = await startStream('deleted.mp4');
    await waitUntil(async () => (await handle.query(progressQuery)).chunksUploaded >= 3);
    fs.unlinkSync(file);
    await assert.rejects(handle.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(String(err.cause?.message), /deleted/);
      return true;
    });
    recordHistory(handle, stack.temporal.address, 'deleted');
    const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);
    assert.equal(manifest.status, 'failed');
    assert.equal(manifest.error?.type, 'FileGone');
    assert.equal(manifest.chunkCount, 3);
  });

  test('cancelling a stream writes a cancelled manifest with exactly the chunks in the bucket', async () => {
    fs.writeFileSync(path.join(watchDir, 'cancelled.mp4'), Buffer.alloc(CHUNK_SIZE * 4 + 9, 'c'));
    const stream = refOf('cancelled.mp4');
    const handle = await startStream('cancelled.mp4', { idleTimeoutMs: 60_000 });
    await waitUntil(async () => (await handle.query(progressQuery)).chunksUploaded >= 4);
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);
    assert.equal(manifest.status, 'cancelled');
    assert.equal(manifest.chunkCount, 4, 'the unfinished tail is not listed');
    assert.deepEqual(
      await listKeys(stack.s3, stack.bucket, `${stream.prefix}/chunks/`),
      manifest.chunks.map((chunk) => chunk.key),
    );
  });

  test("an input whose S3 prefix is not its file's (another stream's, or from another S3_PREFIX) is blocked, and nothing is written or deleted there", async () => {
    fs.writeFileSync(path.join(watchDir, 'forged.mp4'), Buffer.alloc(CHUNK_SIZE * 2 + 5, 'f'));
    const victim = 'wf/victim.mp4/1-1';
    await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `${victim}/chunks/000007`, Body: 'kept' }));
    const stream = { ...refOf('forged.mp4'), prefix: victim };
    const { handle } = await startTestStream(stack, worker, 'forged.mp4', { stream, idleTimeoutMs: 1000 });
    await waitUntil(async () => (await handle.query(progressQuery)).status === 'blocked');
    const { blockedBy } = await handle.query(progressQuery);
    assert.equal(blockedBy?.type, 'InvalidStream');
    assert.match(
      blockedBy?.message ?? '',
      /S3 prefix "wf\/victim.mp4\/1-1" is not the one this host's S3_PREFIX gives/,
    );
    await handle.terminate('forged input');
    assert.deepEqual(await listKeys(stack.s3, stack.bucket, `${victim}/`), [`${victim}/chunks/000007`]);
    assert.deepEqual(await listKeys(stack.s3, stack.bucket, `${refOf('forged.mp4').prefix}/`), []);
  });

  test('a long stream continues as new and loses nothing', async () => {
    const file = path.join(watchDir, 'long.mp4');
    fs.writeFileSync(file, Buffer.from(Array.from({ length: CHUNK_SIZE * 60 + 1234 }, (_, i) => (i * 7919) % 251)));
    const handle = await startStream('long.mp4', { maxHistoryEvents: 20 });
    const summary = await handle.result();
    await assertBucketHoldsFile(summary, 'long.mp4');
    const latest = await stack.client.workflow.getHandle(handle.workflowId).describe();
    assert.notEqual(latest.runId, handle.firstExecutionRunId, 'the stream continued as new at least once');
  });
});
