import { createReadStream } from 'node:fs';
import { HeadObjectCommand, PutObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { FailureType } from '../stream/failures';
import { chunkKey } from '../stream/object-keys';
import type { ChunkRange, ChunkRecord, StreamRef } from '../stream/types';
import { failure } from './failures';
import { hashRange, openStreamFile, resolveInWatchDir } from './stream-file';
import type { UploadSlots } from './upload-slots';

export interface UploadChunksInput {
  stream: StreamRef;
  /** Consecutive chunks; their records come back in this order. */
  ranges: ChunkRange[];
  /** How many of them may be in flight at once; 1 stores them strictly in order. */
  concurrency: number;
}

export interface UploadChunkDeps {
  s3: S3Client;
  bucket: string;
  watchDir: string;
  slots: UploadSlots;
}

export interface UploadOutcome {
  record: ChunkRecord;
  /** False when an identical object was already there (a retry after a crash, a re-run). */
  sent: boolean;
  seconds: number;
}

const UPLOADED_AT = 'uploaded-at';

/**
 * Uploads consecutive chunks of a stream, at most `concurrency` at once and never more than the
 * process's upload slots allow. The first failure stops the others: the caller retries the batch,
 * and what already reached the bucket is then found there, not sent again.
 */
export async function uploadChunks(
  deps: UploadChunkDeps,
  input: UploadChunksInput,
  signal: AbortSignal,
  onChunk: (outcome: UploadOutcome) => void,
): Promise<ChunkRecord[]> {
  const { ranges } = input;
  const batch = new AbortController();
  const cancel = () => batch.abort(signal.reason);
  signal.addEventListener('abort', cancel, { once: true });
  const records: ChunkRecord[] = [];
  let next = 0;
  const lane = async () => {
    while (next < ranges.length) {
      const position = next++;
      const outcome = await deps.slots.use(() => uploadChunk(deps, input.stream, ranges[position], batch.signal), batch.signal);
      records[position] = outcome.record;
      onChunk(outcome);
    }
  };
  const lanes = Math.max(1, Math.min(input.concurrency, ranges.length));
  try {
    await Promise.all(
      Array.from({ length: lanes }, () =>
        lane().catch((err: unknown) => {
          batch.abort(err);
          throw err;
        }),
      ),
    );
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  return records;
}

/**
 * Stores one chunk as one object, streamed from the file: the bytes are read once to hash them
 * and once to send them, and never held whole in memory. The server verifies the SHA-256, so a
 * recorder rewriting the range between the two reads makes the upload fail (and be retried),
 * never store bytes other than the recorded checksum. An identical object already in the bucket
 * is not sent again, and its record is rebuilt from the object, so a retry returns the same
 * record as the attempt it repeats.
 */
async function uploadChunk(deps: UploadChunkDeps, stream: StreamRef, range: ChunkRange, signal: AbortSignal): Promise<UploadOutcome> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const digest = await hashChunk(deps, stream, range);
  const checksum = digest.toString('base64');
  const key = chunkKey(stream.prefix, range.index);
  const base = { ...range, key, sha256: digest.toString('hex') };

  const existing = await headObject(deps, key, signal);
  if (existing && existing.ChecksumSHA256 === checksum && existing.ContentLength === range.size) {
    const uploadedAt = existing.Metadata?.[UPLOADED_AT] ?? existing.LastModified?.toISOString() ?? new Date().toISOString();
    return { record: { ...base, etag: existing.ETag ?? '', uploadedAt }, sent: false, seconds: seconds() };
  }

  const uploadedAt = new Date().toISOString();
  const body = createReadStream(resolveInWatchDir(deps.watchDir, stream.relPath), { start: range.offset, end: range.offset + range.size - 1 });
  try {
    const put = await deps.s3.send(
      new PutObjectCommand({
        Bucket: deps.bucket,
        Key: key,
        Body: body,
        ContentLength: range.size,
        ChecksumSHA256: checksum,
        ContentType: 'application/octet-stream',
        Metadata: { [UPLOADED_AT]: uploadedAt },
      }),
      { abortSignal: signal },
    );
    return { record: { ...base, etag: put.ETag ?? '', uploadedAt }, sent: true, seconds: seconds() };
  } finally {
    // A request that failed before reading its body leaves the file open otherwise.
    body.destroy();
  }
}

async function hashChunk(deps: UploadChunkDeps, stream: StreamRef, range: ChunkRange): Promise<Buffer> {
  const handle = await openStreamFile(deps.watchDir, stream.relPath, stream.identity);
  try {
    const digest = await hashRange(handle, range.offset, range.size);
    if (!digest) throw failure(FailureType.FileTruncated, `file ends before byte ${range.offset + range.size} (chunk ${range.index})`);
    return digest;
  } finally {
    await handle.close();
  }
}

async function headObject(deps: UploadChunkDeps, key: string, signal: AbortSignal): Promise<HeadObjectCommandOutput | null> {
  try {
    return await deps.s3.send(new HeadObjectCommand({ Bucket: deps.bucket, Key: key, ChecksumMode: 'ENABLED' }), { abortSignal: signal });
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
}
