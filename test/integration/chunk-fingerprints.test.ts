import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ChunkFingerprints } from '../../src/activities/file/chunk-fingerprints';
import { HASH_READ_SIZE } from '../../src/activities/file/stream-file';
import { findChangedChunks } from '../../src/activities/verify-chunks';
import type { ChunkRecord } from '../../src/stream/types';
import { tempDir } from '../support/stack';

// Larger than one read: a fingerprint is fed in pieces.
const CHUNK_SIZE = 2 * HASH_READ_SIZE + 12_345;
const CHUNKS = 3;

/** A real file of CHUNKS chunks, the records of its chunks, and each chunk's bytes. */
function recording(name: string): { file: string; records: ChunkRecord[]; pieces: Buffer[] } {
  const file = path.join(tempDir('fingerprints'), name);
  const bytes = randomBytes(CHUNKS * CHUNK_SIZE);
  fs.writeFileSync(file, bytes);
  const pieces = Array.from({ length: CHUNKS }, (_, i) => bytes.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE));
  const records = pieces.map((piece, index) => ({
    index,
    offset: index * CHUNK_SIZE,
    size: CHUNK_SIZE,
    key: `${name}/chunks/${index}`,
    sha256: createHash('sha256').update(piece).digest('hex'),
    etag: '',
    uploadedAt: new Date().toISOString(),
  }));
  return { file, records, pieces };
}

async function changedChunks(fingerprints: ChunkFingerprints, file: string, records: ChunkRecord[]): Promise<number[]> {
  const handle = await fsp.open(file);
  try {
    const { size, mtimeMs } = await handle.stat();
    return (await findChangedChunks(fingerprints, handle, { size, mtimeMs }, records)).changed;
  } finally {
    await handle.close();
  }
}

test('a check finds the one byte a recorder rewrote, by fingerprint and by SHA-256 alike', async () => {
  const { file, records, pieces } = recording('rewritten.mp4');
  const remembering = await ChunkFingerprints.create();
  pieces.forEach((piece, i) => remembering.remember(records[i].sha256, remembering.of(piece)));
  assert.deepEqual(await changedChunks(remembering, file, records), []);

  const handle = await fsp.open(file, 'r+');
  await handle.write(Buffer.from([pieces[1][HASH_READ_SIZE + 7] ^ 1]), 0, 1, CHUNK_SIZE + HASH_READ_SIZE + 7);
  await handle.close();
  assert.deepEqual(await changedChunks(remembering, file, records), [1]);
  assert.deepEqual(await changedChunks(await ChunkFingerprints.create(), file, records), [1]);
});

test('a remembered fingerprint is what a check compares; forgotten, the SHA-256 is', async () => {
  const { file, records, pieces } = recording('remembered.mp4');
  const fingerprints = await ChunkFingerprints.create(1);
  // A fingerprint that no bytes have: the check must say the chunk changed, though it did not.
  fingerprints.remember(records[0].sha256, fingerprints.of(pieces[0]) ^ 1n);
  assert.deepEqual(await changedChunks(fingerprints, file, records), [0]);
  // Remembering another chunk forgets the oldest: chunk 0 is compared by its SHA-256 again.
  fingerprints.remember(records[2].sha256, fingerprints.of(pieces[2]));
  assert.deepEqual(await changedChunks(fingerprints, file, records), []);
});

test('a fingerprint fed piece by piece, as a streamed chunk is, equals the one of the bytes in memory', async () => {
  const { pieces } = recording('pieces.mp4');
  const fingerprints = await ChunkFingerprints.create();
  const streamed = fingerprints.start();
  for (let at = 0; at < pieces[0].length; at += 65_536) streamed.update(pieces[0].subarray(at, at + 65_536));
  assert.equal(streamed.digest(), fingerprints.of(pieces[0]));
  assert.notEqual(fingerprints.of(pieces[1]), fingerprints.of(pieces[0]));
});

test('a file that ends inside a remembered chunk does not hold it', async () => {
  const { file, records, pieces } = recording('truncated.mp4');
  const fingerprints = await ChunkFingerprints.create();
  fingerprints.remember(records[2].sha256, fingerprints.of(pieces[2]));
  fs.truncateSync(file, 2 * CHUNK_SIZE + 10);
  const handle = await fsp.open(file);
  try {
    assert.equal(await fingerprints.holds(handle, records[2], Buffer.allocUnsafe(HASH_READ_SIZE)), false);
  } finally {
    await handle.close();
  }
});
