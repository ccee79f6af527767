import { createHash } from 'node:crypto';
import type { ReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import {
  PutObjectCommand,
  type HeadObjectCommandOutput,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FailureType } from '../../stream/failures';
import { alternateChunkKey, chunkKey } from '../../stream/object-keys';
import { settledMtime } from '../../stream/settled-chunks';
import type { ChunkRange, ChunkRecord, StreamRef } from '../../stream/types';
import type { UploadChunksInput } from '../activity-io';
import { failure } from '../failures';
import type { ChunkBuffers } from './chunk-buffers';
import { resetOnAbort } from './reset-on-abort';
import { headObject, storedWithChecksum } from './stored-object';
import { openStreamFile, readExactly, readRange } from '../file/stream-file';
import type { ChunkFingerprints } from '../file/chunk-fingerprints';
import type { UploadPriority, UploadRate } from './upload-rate';
import type { Slots } from '../slots';

export interface UploadChunkDeps {
  s3: S3Client;
  bucket: string;
  watchDir: string;
  uploadSlots: Slots;
  /** UPLOAD_RATE_LIMIT; absent: no limit. */
  rate?: UploadRate;
  buffers: ChunkBuffers;
  fingerprints: ChunkFingerprints;
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
 * and what already reached the bucket is then found there, not sent again. `priority` orders them
 * against other streams' chunks for the slots and the rate limit.
 */
export async function sendChunks(
  deps: UploadChunkDeps,
  input: UploadChunksInput,
  priority: UploadPriority,
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
      const outcome = await deps.uploadSlots.use(
        () => uploadChunk(deps, input.stream, ranges[position], priority, batch.signal),
        batch.signal,
        priority,
      );
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
 * Chunks up to this size are read once into memory, hashed there and sent from there: one read
 * and one hash per byte. Larger ones are hashed, then streamed from the file, so that memory stays
 * flat whatever CHUNK_SIZE is (at most MAX_CONCURRENT_UPLOADS of these buffers are in use).
 */
export const MAX_BUFFERED_CHUNK = 16 * 2 ** 20;

/**
 * Stores one chunk as one object. Its record carries the file's mtime when the bytes were read,
 * if settled then: the final check skips chunks read under the mtime the file still has.
 */
async function uploadChunk(
  deps: UploadChunkDeps,
  stream: StreamRef,
  range: ChunkRange,
  priority: UploadPriority,
  signal: AbortSignal,
): Promise<UploadOutcome> {
  const started = performance.now();
  const uploadedAt = new Date().toISOString();
  const send = async (
    { digest, sourceMtimeMs }: ReadChunk,
    body: () => Promise<PutObjectCommandInput['Body']>,
  ): Promise<UploadOutcome> => {
    const chunk = {
      ...range,
      key: chunkKey(stream.prefix, range.index),
      sha256: digest.toString('hex'),
      uploadedAt,
      ...(sourceMtimeMs === undefined ? {} : { sourceMtimeMs }),
    };
    const alternateKey = alternateChunkKey(stream.prefix, range.index, chunk.sha256);
    return {
      ...(await storeChunk(deps, chunk, alternateKey, body, priority, signal)),
      seconds: (performance.now() - started) / 1000,
    };
  };
  if (range.size <= MAX_BUFFERED_CHUNK) {
    return deps.buffers.use(range.size, async (buffer) => {
      const read = await readChunk(deps, stream, range, async (handle) => {
        const bytes = await readExactly(handle, range.offset, range.size, buffer);
        return { sha256: createHash('sha256').update(bytes).digest(), fingerprint: deps.fingerprints.of(bytes) };
      });
      return send(read, () => Promise.resolve(buffer));
    });
  }
  const read = await readChunk(deps, stream, range, async (handle) => {
    const sha256 = createHash('sha256');
    const fingerprint = deps.fingerprints.start();
    const whole = await readRange(handle, range.offset, range.size, (bytes) => {
      sha256.update(bytes);
      fingerprint.update(bytes);
    });
    return whole ? { sha256: sha256.digest(), fingerprint: fingerprint.digest() } : null;
  });
  let body: ReadStream | undefined;
  try {
    return await send(read, async () => {
      const { handle } = await openStreamFile(deps.watchDir, stream.relPath, stream.identity);
      return (body = handle.createReadStream({ start: range.offset, end: range.offset + range.size - 1 }));
    });
  } finally {
    // A request that failed before reading its body leaves the file open otherwise.
    body?.destroy();
  }
}

/**
 * PUTs a chunk unless an identical object is already there. Other bytes at its key are never
 * overwritten (a manifest may list them): the chunk then goes to `alternateKey`, and the manifest
 * that lists it names that key. The server verifies its SHA-256, so a
 * streamed body that a recorder rewrites between the hash and the send fails (and is retried),
 * never storing bytes other than the recorded checksum. An identical object's record is rebuilt
 * from the object, so a retry returns the same record as the attempt it repeats.
 */
async function storeChunk(
  deps: UploadChunkDeps,
  chunk: Omit<ChunkRecord, 'etag'>,
  alternateKey: string,
  body: () => Promise<PutObjectCommandInput['Body']>,
  priority: UploadPriority,
  signal: AbortSignal,
): Promise<Omit<UploadOutcome, 'seconds'>> {
  const holdsChunk = (object: HeadObjectCommandOutput) => storedWithChecksum(object, chunk.size, chunk.sha256);
  const atKey = await headObject(deps.s3, deps.bucket, chunk.key, signal);
  const key = atKey && !holdsChunk(atKey) ? alternateKey : chunk.key;
  const existing = key === chunk.key ? atKey : await headObject(deps.s3, deps.bucket, key, signal);
  if (existing && holdsChunk(existing)) {
    const uploadedAt = existing.Metadata?.[UPLOADED_AT] ?? existing.LastModified?.toISOString() ?? chunk.uploadedAt;
    return { record: { ...chunk, key, etag: existing.ETag ?? '', uploadedAt }, sent: false };
  }
  // Only bytes that go out count against the limit: a chunk already stored costs none.
  await deps.rate?.take(chunk.size, priority, signal);
  const put = new PutObjectCommand({
    Bucket: deps.bucket,
    Key: key,
    Body: await body(),
    ContentLength: chunk.size,
    ChecksumSHA256: Buffer.from(chunk.sha256, 'hex').toString('base64'),
    ContentType: 'application/octet-stream',
    Metadata: { [UPLOADED_AT]: chunk.uploadedAt },
  });
  // The checksum header already guards the body: signing the body as well would hash every byte
  // again (the SDK signs a buffer, not a stream), and the server would then check both.
  put.middlewareStack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'unsignedChunkPayload' },
  );
  const { ETag } = await resetOnAbort(signal, () => deps.s3.send(put, { abortSignal: signal }));
  return { record: { ...chunk, key, etag: ETag ?? '' }, sent: true };
}

interface ReadChunk {
  digest: Buffer;
  sourceMtimeMs?: number;
}

/** A chunk's SHA-256 and its fingerprint (see `ChunkFingerprints`), from one read of its bytes. */
interface ChunkDigests {
  sha256: Buffer;
  fingerprint: bigint;
}

/**
 * Reads the chunk's bytes once with `hash` (into memory and hashing them there, or only hashing
 * them), remembers their fingerprint for the checks to come, and returns their SHA-256 with the
 * file's mtime when it was opened, if settled then. A file that ends first (`hash` gives null) was
 * truncated or rewritten.
 */
async function readChunk(
  deps: UploadChunkDeps,
  stream: StreamRef,
  range: ChunkRange,
  hash: (handle: FileHandle) => Promise<ChunkDigests | null>,
): Promise<ReadChunk> {
  // Taken before the file is opened: the mtime seen then was at least this old.
  const openedAt = Date.now();
  const { handle, snapshot } = await openStreamFile(deps.watchDir, stream.relPath, stream.identity);
  try {
    const digests = await hash(handle);
    if (!digests)
      throw failure(
        FailureType.FileTruncated,
        `file ends before byte ${range.offset + range.size} (chunk ${range.index})`,
      );
    deps.fingerprints.remember(digests.sha256.toString('hex'), digests.fingerprint);
    return { digest: digests.sha256, sourceMtimeMs: settledMtime(snapshot.mtimeMs, openedAt) };
  } finally {
    await handle.close();
  }
}
