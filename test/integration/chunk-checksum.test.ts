import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { createBucket, startMinio, type S3Server } from '../../scripts/s3-servers';
import { ChunkBuffers } from '../../src/activities/store/chunk-buffers';
import { ChunkFingerprints } from '../../src/activities/file/chunk-fingerprints';
import { classify } from '../../src/activities/failures';
import { MAX_BUFFERED_CHUNK, sendChunks, type UploadChunkDeps } from '../../src/activities/store/upload-chunk';
import { Slots } from '../../src/activities/slots';
import { chunkRange } from '../../src/stream/chunk-plan';
import { streamRef } from '../../src/stream/identity';
import type { ChunkRecord, StreamRef } from '../../src/stream/types';
import { appS3Client, type AppS3Client } from '../support/app-s3-client';
import { getObject, objectExists } from '../support/bucket';
import { tempDir } from '../support/stack';

const MiB = 2 ** 20;
const BUCKET = 'recordings';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * The chunk upload itself (`sendChunks`, with the app's own S3 client, upload slots and buffers)
 * against a real MinIO, with the file rewritten at the one moment that matters: after the chunk
 * was hashed, as its PutObject request leaves. The hook is a middleware on the app's client, so
 * the bytes the server gets are whatever the file holds then.
 */
describe('chunk checksums verified by the S3 server', () => {
  let minio: S3Server;
  let s3: S3Client;
  let watchDir: string;
  let fingerprints: ChunkFingerprints;
  let client: AppS3Client;

  before(async () => {
    minio = await startMinio();
    await createBucket(minio, BUCKET);
    client = appS3Client(minio, BUCKET, { prefix: 'checksum' });
    s3 = client.s3;
    watchDir = tempDir('checksum');
    fingerprints = await ChunkFingerprints.create();
  });
  after(async () => {
    s3?.destroy();
    await minio?.stop();
  });

  function deps(): UploadChunkDeps {
    return { s3, bucket: BUCKET, watchDir, uploadSlots: new Slots(2), buffers: new ChunkBuffers(), fingerprints };
  }

  /** A file of `size` random bytes, and its stream. */
  function writeRecording(relPath: string, size: number): { file: string; stream: StreamRef } {
    const file = path.join(watchDir, relPath);
    fs.writeFileSync(file, randomBytes(size));
    const stats = fs.statSync(file);
    return { file, stream: streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, 'checksum') };
  }

  /** Overwrites `length` bytes at `offset` in place (same inode, same size), as a recorder patching its file. */
  function rewriteInPlace(file: string, offset: number, length: number): void {
    const fd = fs.openSync(file, 'r+');
    try {
      fs.writeSync(fd, randomBytes(length), 0, length, offset);
    } finally {
      fs.closeSync(fd);
    }
  }

  const fileBytes = (file: string, offset: number, size: number) =>
    fs.readFileSync(file).subarray(offset, offset + size);

  async function upload(stream: StreamRef, fileSize: number, chunkSize: number): Promise<ChunkRecord[]> {
    return sendChunks(
      deps(),
      { stream, ranges: [chunkRange(0, chunkSize, fileSize)], concurrency: 1 },
      'backlog',
      new AbortController().signal,
      () => undefined,
    );
  }

  test('a streamed chunk (over 16 MiB) rewritten between its hash and its send is refused, never stored, and a retry stores the new bytes', async () => {
    const chunkSize = 20 * MiB;
    assert.ok(chunkSize > MAX_BUFFERED_CHUNK, 'the chunk takes the hash-then-stream path');
    const { file, stream } = writeRecording('streamed.mp4', chunkSize);
    const hashed = sha256(fileBytes(file, 0, chunkSize));
    const key = `${stream.prefix}/chunks/000000`;
    let rewritten = false;
    client.onNextPut(() => {
      rewriteInPlace(file, 10 * MiB, MiB);
      rewritten = true;
    });

    const refused = await upload(stream, chunkSize, chunkSize).then(
      (records) => assert.fail(`the server stored a body other than its checksum: ${JSON.stringify(records)}`),
      (err: unknown) => err as Error & { $metadata?: { httpStatusCode?: number } },
    );
    assert.ok(rewritten, 'the file was rewritten as the PutObject left, after the hash');
    const rewrittenBytes = fileBytes(file, 0, chunkSize);
    assert.notEqual(sha256(rewrittenBytes), hashed, 'the rewrite changed the chunk');
    // The server itself refused the body: a 400 naming the checksum, not a client-side error.
    assert.equal(refused.$metadata?.httpStatusCode, 400, `${refused.name}: ${refused.message}`);
    assert.match(`${refused.name} ${refused.message}`, /checksum|digest|sha256/i);
    // And Temporal retries it (the next attempt hashes the bytes again), rather than blocking the stream.
    assert.ok(!(classify(refused) instanceof ApplicationFailure), `classified ${classify(refused).message}`);
    assert.equal(await objectExists(s3, BUCKET, key), false, 'nothing is stored at the chunk key');

    const [record] = await upload(stream, chunkSize, chunkSize);
    assert.equal(record.key, key);
    assert.equal(record.sha256, sha256(rewrittenBytes), 'the retry hashed the bytes as they are now');
    const stored = await getObject(s3, BUCKET, key);
    assert.equal(sha256(stored), record.sha256, 'the stored object is what the record says');
    assert.ok(stored.equals(rewrittenBytes), 'the bucket holds the file as it is');
    assert.equal(fingerprints.remembered(record.sha256), fingerprints.of(stored), 'its fingerprint is remembered');
  });

  test('a buffered chunk (16 MiB or less) is sent from memory: a rewrite after its read is not in that upload', async () => {
    const chunkSize = 4 * MiB;
    assert.ok(chunkSize <= MAX_BUFFERED_CHUNK, 'the chunk is read once into memory');
    const { file, stream } = writeRecording('buffered.mp4', chunkSize + 100);
    const read = fileBytes(file, 0, chunkSize);
    const putsBefore = client.puts();
    let rewritten = false;
    client.onNextPut(() => {
      rewriteInPlace(file, MiB, MiB);
      rewritten = true;
    });

    const [record] = await upload(stream, chunkSize + 100, chunkSize);
    assert.ok(rewritten, 'the file was rewritten as the PutObject left, after the read');
    assert.equal(client.puts() - putsBefore, 1, 'one PUT: the upload was not refused and retried');
    assert.notEqual(sha256(fileBytes(file, 0, chunkSize)), sha256(read), 'the rewrite changed the chunk on disk');
    const stored = await getObject(s3, BUCKET, record.key);
    assert.equal(sha256(stored), record.sha256, 'the stored object is what the record says');
    assert.ok(stored.equals(read), 'the bucket holds the bytes as they were read, not the later rewrite');
    assert.equal(fingerprints.remembered(record.sha256), fingerprints.of(stored), 'its fingerprint is remembered');
  });
});
