import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { FollowFileResult } from '../../src/activities/follow-loop';
import type { ManifestSummary } from '../../src/stream/manifest';
import { downloadStreamSha256, readManifestObject } from '../support/bucket';
import { recordHistory } from '../support/histories';
import { ffprobeDurationSeconds, makeMp4, recordLive, sha256File } from '../support/media';
import { startStack, startStream, startWorker, tempDir, type TestStack } from '../support/stack';
import { waitUntil } from '../support/wait';

const CHUNK_SIZE = 256 * 1024;

/**
 * Completing a stream must not re-read a long recording: chunks read under the mtime the file
 * still has are trusted, and a live recording is checked while it is quiet, before the idle
 * timeout ends it. What the bucket holds must still equal the file, byte for byte.
 */
describe('completing a stream reads again only chunks that may have changed', () => {
  let stack: TestStack;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  let watchDir: string;

  before(async () => {
    stack = await startStack();
    watchDir = tempDir('settled');
    worker = await startWorker(stack, { WATCH_DIR: watchDir, CHUNK_SIZE: String(CHUNK_SIZE), S3_PREFIX: 'settled' });
  });
  after(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  /** The results of every execution of `activityType` in the workflow's history, in order. */
  async function activityResults<T>(handle: WorkflowHandle, activityType: string): Promise<T[]> {
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = new Set<string>();
    const results: T[] = [];
    for (const event of events) {
      if (event.activityTaskScheduledEventAttributes?.activityType?.name === activityType)
        scheduled.add(String(event.eventId));
      const completed = event.activityTaskCompletedEventAttributes;
      if (completed && scheduled.has(String(completed.scheduledEventId))) {
        results.push(JSON.parse(Buffer.from(completed.result!.payloads![0].data!).toString('utf8')) as T);
      }
    }
    return results;
  }

  async function assertBucketHoldsFile(summary: ManifestSummary, relPath: string) {
    const manifest = await readManifestObject(stack.s3, stack.bucket, summary.manifestKey);
    const file = path.join(watchDir, relPath);
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.totalSize, fs.statSync(file).size);
    assert.equal(
      await downloadStreamSha256(stack.s3, stack.bucket, manifest),
      await sha256File(file),
      `${relPath}: bucket bytes equal the file`,
    );
    return manifest;
  }

  const chunksReread = async () =>
    (await worker.metrics.chunksReread.get()).values.reduce((sum, value) => sum + value.value, 0);

  test('a finished recording is read once: its chunks carry the mtime they were read under, and its follow completes it reading none again', async () => {
    const file = path.join(watchDir, 'finished.mp4');
    await makeMp4(file, { seconds: 3, kind: 'regular' });
    const lastWrite = new Date(Date.now() - 60_000);
    fs.utimesSync(file, lastWrite, lastWrite);
    const rereadBefore = await chunksReread();
    const { handle } = await startStream(stack, worker, 'finished.mp4', { idleTimeoutMs: 1000 });
    const manifest = await assertBucketHoldsFile(await handle.result(), 'finished.mp4');
    recordHistory(handle, stack.temporal.address, 'backlog-completed-by-follow');
    assert.ok(manifest.chunkCount > 3, `several chunks (${manifest.chunkCount})`);
    const fullChunks = manifest.chunks.slice(0, -1);
    assert.deepEqual(new Set(fullChunks.map((chunk) => chunk.sourceMtimeMs)), new Set([manifest.source.mtimeMs]));
    assert.equal((await chunksReread()) - rereadBefore, 0, 'no chunk read again');
    const follows = await activityResults<FollowFileResult>(handle, 'followFile');
    assert.equal(follows.at(-1)?.completed?.status, 'complete', 'the follow wrote the complete manifest');
    for (const step of ['verifyChunks', 'uploadChunks', 'observeStreamFile', 'inspectFile', 'writeManifest']) {
      assert.deepEqual(await activityResults(handle, step), [], `${step} did not run`);
    }
  });

  test('a live regular MP4 is checked while quiet: the header ffmpeg patched at stop goes up again before the idle timeout, and the follow completes the stream', async () => {
    const relPath = 'live-regular.mp4';
    const file = path.join(watchDir, relPath);
    const recording = recordLive(file, { seconds: 5, kind: 'regular', bitrate: '3M' });
    await waitUntil(() => fs.existsSync(file) && fs.statSync(file).size > 0, 10_000);
    // Quiet for half of this, the follow checks the chunks; the other half is left for the check.
    const { handle } = await startStream(stack, worker, relPath, { idleTimeoutMs: 6000 });
    await recording.done;
    const manifest = await assertBucketHoldsFile(await handle.result(), relPath);
    recordHistory(handle, stack.temporal.address, 'live-completed-by-follow');

    const follows = await activityResults<FollowFileResult>(handle, 'followFile');
    const checks = follows.filter((follow) => follow.checked);
    assert.ok(
      checks.length > 0,
      `a follow settled the chunks: ${JSON.stringify(follows.map((follow) => ({ end: follow.end, checked: follow.checked })))}`,
    );
    assert.ok(
      follows.some((follow) => follow.rewritten?.some((chunk) => chunk.index === 0)),
      'chunk 0 (mdat size patched at stop) was uploaded again by the check',
    );
    assert.ok(manifest.rewrittenChunks >= 1);
    assert.equal(follows.at(-1)?.completed?.status, 'complete', 'the last follow wrote the complete manifest');
    assert.ok(
      Math.abs(manifest.durationSeconds! - (await ffprobeDurationSeconds(file))) < 0.1,
      `duration ${manifest.durationSeconds}`,
    );
    // Nothing was left for the workflow to do: no check, no tail, no duration, no manifest of its own.
    for (const step of ['verifyChunks', 'uploadChunks', 'inspectFile', 'writeManifest']) {
      assert.deepEqual(await activityResults(handle, step), [], `${step} did not run`);
    }
  });
});
