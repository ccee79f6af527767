import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createBucket, s3ClientFor, startMinio, type S3Server } from '../../scripts/s3-servers';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  loadChunkRecords,
  readChunkRecords,
  readManifest,
  saveManifest,
} from '../../src/activities/store/manifest-store';
import { streamRef } from '../../src/stream/identity';
import { CHUNK_RECORDS_PER_PAGE, type ManifestFields } from '../../src/stream/manifest';
import { chunkKey, manifestKey } from '../../src/stream/object-keys';
import { listKeys, readManifestObject } from '../support/bucket';
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
  /** A chunk's hash, named for the test by what it stands for. */
  const sha = (label: string) => createHash('sha256').update(label).digest('hex');
  const record = (index: number, size = CHUNK, label = `chunk-${index}`): ChunkRecord => ({
    index,
    offset: index * CHUNK,
    size,
    key: chunkKey(stream.prefix, index),
    sha256: sha(label),
    etag: `"${sha(label)}"`,
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

  const fields = (status: ManifestFields['status'] = 'recording'): ManifestFields => ({
    stream,
    file: { size: 2 * CHUNK, mtimeMs: 1 },
    status,
    revision: 1,
    rewrittenChunks: 0,
    chunkSize: CHUNK,
    startedAt: new Date(0).toISOString(),
    completedAt: status === 'recording' ? null : new Date(0).toISOString(),
    durationSeconds: null,
  });
  const indexes = (count: number, from = 0) => Array.from({ length: count }, (_, at) => from + at);

  test('come from the stored manifest where the records since it lack an index, even when some index repeats', async () => {
    await saveManifest({ s3, bucket }, fields(), [record(0), record(1)], 2);
    // Since that manifest: chunks 2 to 5, the tail 6 (48 bytes), 6 again whole, 0 rewritten, the tail 7.
    const pending = [
      record(2),
      record(3),
      record(4),
      record(5),
      record(6, 48, 'tail-6'),
      record(6),
      record(0, CHUNK, 'patched-0'),
      record(7, 480),
    ];

    const records = await loadChunkRecords({ s3, bucket }, stream.prefix, pending, 0, 8);

    assert.deepEqual(
      records.map((chunk) => chunk.sha256),
      ['patched-0', 'chunk-1', 'chunk-2', 'chunk-3', 'chunk-4', 'chunk-5', 'chunk-6', 'chunk-7'].map(sha),
    );
  });

  test('are written in pages: an update costs the same at chunk 10,000 as at chunk 10', async () => {
    const long = streamRef('cam/long.mp4', { ino: 8, birthtimeMs: 1 }, '');
    const longFields = { ...fields(), stream: long };
    const longRecord = (index: number) => ({ ...record(index), key: chunkKey(long.prefix, index) });
    // 10,001 chunks stored in updates of 200 records (the most a workflow keeps pending).
    const written: number[] = [];
    for (let first = 0; first < 10_001; first += 200) {
      const count = Math.min(10_001, first + 200);
      written.push(
        (await saveManifest({ s3, bucket }, longFields, indexes(count - first, first).map(longRecord), count))
          .bytesWritten,
      );
    }
    // One chunk more: an update as a live stream makes it, at each end of the recording.
    const early = await saveManifest(
      { s3, bucket },
      { ...longFields, stream: streamRef('cam/short.mp4', { ino: 9, birthtimeMs: 1 }, '') },
      indexes(11).map(longRecord),
      11,
    );
    const late = await saveManifest({ s3, bucket }, longFields, [longRecord(10_001)], 10_002);
    assert.ok(
      late.bytesWritten < 2 * early.bytesWritten,
      `chunk 10,002: ${late.bytesWritten} bytes written, chunk 11: ${early.bytesWritten}`,
    );
    assert.ok(
      Math.max(...written) < 2 * Math.min(...written.slice(0, -1)),
      `updates of 200 records wrote ${Math.min(...written)} to ${Math.max(...written)} bytes`,
    );

    const read = await readManifestObject(s3, bucket, manifestKey(long.prefix));
    assert.deepEqual(
      read.chunks.map((chunk) => chunk.index),
      indexes(10_002),
    );
    assert.equal(read.totalSize, 10_002 * CHUNK);
    assert.equal(read.chunkRecords.pages, Math.ceil(10_002 / CHUNK_RECORDS_PER_PAGE));
  });

  test('of a manifest written before pages (schema 1) are read, and moved to pages by the next write', async () => {
    const old = streamRef('cam/old.mp4', { ino: 10, birthtimeMs: 1 }, '');
    const oldRecord = (index: number) => ({ ...record(index), key: chunkKey(old.prefix, index) });
    const inline = {
      ...fields(),
      schemaVersion: 1,
      streamId: old.streamId,
      workflowId: old.workflowId,
      chunkCount: 150,
      totalSize: 150 * CHUNK,
      chunks: indexes(150).map(oldRecord),
    };
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey(old.prefix), Body: JSON.stringify(inline) }));
    const stored = await readManifest({ s3, bucket }, old.prefix);
    assert.deepEqual(
      (await readChunkRecords({ s3, bucket }, old.prefix, stored!, 95, 105)).map((chunk) => chunk.index),
      indexes(10, 95),
    );

    await saveManifest({ s3, bucket }, { ...fields(), stream: old }, [oldRecord(150)], 151);
    const read = await readManifestObject(s3, bucket, manifestKey(old.prefix));
    assert.deepEqual(
      read.chunks.map((chunk) => chunk.index),
      indexes(151),
    );
  });

  test('past the end of a file that shrank are not taken back when it grows again', async () => {
    const shrunk = streamRef('cam/shrunk.mp4', { ino: 11, birthtimeMs: 1 }, '');
    const shrunkRecord = (index: number, label?: string) => ({
      ...record(index, CHUNK, label),
      key: chunkKey(shrunk.prefix, index),
    });
    await saveManifest(
      { s3, bucket },
      { ...fields(), stream: shrunk },
      indexes(250).map((index) => shrunkRecord(index)),
      250,
    );
    await saveManifest({ s3, bucket }, { ...fields(), stream: shrunk }, [], 120);
    // Grown again: chunks 120 to 249 must be uploaded anew; the stale page's records are no records.
    await assert.rejects(
      saveManifest({ s3, bucket }, { ...fields(), stream: shrunk }, [shrunkRecord(249, 'new-249')], 250),
      /no record of chunk 120/,
    );
    await saveManifest({ s3, bucket }, { ...fields('complete'), stream: shrunk }, [], 120);
    assert.deepEqual(
      (await listKeys(s3, bucket, `${shrunk.prefix}/chunk-records/`)).map((key) => key.slice(shrunk.prefix.length + 1)),
      ['chunk-records/000000.json', 'chunk-records/000001.json', 'chunk-records/000002.json'],
      'pages are removed by the activity that deletes chunks past the end, not by saving',
    );
  });
});
