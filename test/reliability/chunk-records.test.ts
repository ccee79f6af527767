import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createBucket, s3ClientFor, startMinio, type S3Server } from '../../scripts/local-servers';
import { loadChunkRecords, putManifest } from '../../src/activities/manifest-store';
import { streamRef } from '../../src/stream/identity';
import { buildManifest } from '../../src/stream/manifest';
import { chunkKey } from '../../src/stream/object-keys';
import type { ChunkRecord } from '../../src/stream/types';

/**
 * Regression test for a hang the reliability suite found (sigterm scenario, docs/reliability.md):
 * a stream whose upload records since its last live manifest hold one chunk twice (the tail sent,
 * then sent again whole once the file grew during finalizing; chunk 0 sent again after ffmpeg
 * patched it) could not write its final manifest: the records were counted, not their indexes,
 * so the stored manifest's records of the early chunks were never read, and the write failed,
 * retried forever.
 */
describe('the chunk records of a manifest', () => {
  let minio: S3Server;
  let s3: S3Client;
  const bucket = 'records';
  const stream = streamRef('cam/rec.mp4', { ino: 7, birthtimeMs: 1 }, '');
  const CHUNK = 1000;
  const record = (index: number, size = CHUNK, sha256 = `sha-${index}`): ChunkRecord => ({
    index,
    offset: index * CHUNK,
    size,
    key: chunkKey(stream.prefix, index),
    sha256,
    etag: `"${sha256}"`,
    uploadedAt: new Date(0).toISOString(),
  });

  before(async () => {
    minio = await startMinio();
    await createBucket(minio, bucket);
    s3 = s3ClientFor(minio);
  });
  after(async () => {
    s3?.destroy();
    await minio?.stop();
  });

  test('come from the stored manifest where the records since it lack an index, even when some index repeats', async () => {
    const stored = buildManifest({
      stream,
      file: { size: 2 * CHUNK, mtimeMs: 1 },
      status: 'recording',
      revision: 1,
      rewrittenChunks: 0,
      chunkSize: CHUNK,
      chunks: [record(0), record(1)],
      startedAt: new Date(0).toISOString(),
      completedAt: null,
      durationSeconds: null,
    });
    await putManifest({ s3, bucket }, stream.prefix, stored);
    // Since that manifest: chunks 2 to 5, the tail 6 (48 bytes), 6 again whole, 0 rewritten, the tail 7.
    const pending = [record(2), record(3), record(4), record(5), record(6, 48, 'tail-6'), record(6), record(0, CHUNK, 'patched-0'), record(7, 480)];

    const records = await loadChunkRecords({ s3, bucket }, stream.prefix, pending, 8);

    assert.deepEqual(
      records.map((chunk) => [chunk.index, chunk.sha256]),
      [[0, 'patched-0'], [1, 'sha-1'], [2, 'sha-2'], [3, 'sha-3'], [4, 'sha-4'], [5, 'sha-5'], [6, 'sha-6'], [7, 'sha-7']],
    );
  });
});
