import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import type { ActivityDeps } from '../../src/activities/activity-deps';
import { Slots } from '../../src/activities/slots';
import { ChunkBuffers } from '../../src/activities/store/chunk-buffers';
import { ChunkFingerprints } from '../../src/activities/file/chunk-fingerprints';
import type { UploadPriority } from '../../src/activities/store/upload-rate';
import { checkChunks } from '../../src/activities/verify-chunks';
import { FollowedStreams } from '../../src/followed-streams';
import { fileIdentity } from '../../src/stream/identity';
import type { ChunkRecord, StreamRef } from '../../src/stream/types';
import { tempDir, unservedMetrics } from '../support/stack';

const CHUNK_SIZE = 256 * 1024;
const CHUNKS = 4;

/** A file of CHUNKS chunks in `watchDir`, with the records of its uploaded chunks (so no bucket is read). */
function recordedFile(watchDir: string, name: string): { stream: StreamRef; records: ChunkRecord[] } {
  const bytes = randomBytes(CHUNKS * CHUNK_SIZE);
  fs.writeFileSync(path.join(watchDir, name), bytes);
  const records = Array.from({ length: CHUNKS }, (_, index) => ({
    index,
    offset: index * CHUNK_SIZE,
    size: CHUNK_SIZE,
    key: `${name}/chunks/${index}`,
    sha256: createHash('sha256')
      .update(bytes.subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE))
      .digest('hex'),
    etag: '',
    uploadedAt: new Date().toISOString(),
  }));
  const identity = fileIdentity(fs.statSync(path.join(watchDir, name)));
  return { stream: { streamId: name, workflowId: name, relPath: name, prefix: name, identity }, records };
}

test('checks of many streams at once read one file per check slot at a time, live streams first', async () => {
  const watchDir = tempDir('check-slots');
  const deps: ActivityDeps = {
    // Never called: every chunk's record is given, so no page of records is read from the bucket.
    s3: new S3Client({ region: 'us-east-1' }),
    bucket: 'unused',
    watchDir,
    metrics: unservedMetrics(),
    uploadSlots: new Slots(1),
    checkSlots: new Slots(1),
    buffers: new ChunkBuffers(),
    fingerprints: await ChunkFingerprints.create(),
    followed: new FollowedStreams(),
    s3Prefix: '',
  };
  const read: string[] = [];
  const check = (name: string, priority: UploadPriority) => {
    const { stream, records } = recordedFile(watchDir, name);
    return checkChunks(
      deps,
      { stream, chunkCount: CHUNKS, pendingChunks: records },
      priority,
      new AbortController().signal,
      () => read.push(name),
    );
  };
  // The first takes the one slot; the live check queued last goes before the backlog ones.
  const results = await Promise.all([
    check('first.mp4', 'backlog'),
    check('backlog.mp4', 'backlog'),
    check('live.mp4', 'live'),
  ]);

  for (const result of results) assert.deepEqual(result.changed, [], 'every file is as uploaded');
  const order = ['first.mp4', 'live.mp4', 'backlog.mp4'];
  assert.deepEqual(
    read,
    order.flatMap((name) => Array<string>(CHUNKS).fill(name)),
    'each check reads all its chunks before the next one starts',
  );
});
