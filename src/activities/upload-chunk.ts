import { createHash } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { chunkKey } from '../stream/object-keys';
import type { ChunkRange, ChunkRecord, StreamRef } from '../stream/types';
import { openStreamFile, readExactly } from './stream-file';

export interface UploadChunkInput {
  stream: StreamRef;
  range: ChunkRange;
}

export interface UploadChunkDeps {
  s3: S3Client;
  bucket: string;
  watchDir: string;
}

export interface UploadOutcome {
  record: ChunkRecord;
  /** False when an identical object was already there (a retry after a crash, a re-run). */
  sent: boolean;
}

const UPLOADED_AT = 'uploaded-at';

/**
 * Reads the chunk's bytes from the file and stores them as one object. The server verifies the
 * SHA-256 we send. An identical object already in the bucket is not sent again, and its record is
 * rebuilt from the object itself, so a retry returns the same record as the attempt it repeats.
 */
export async function uploadChunk(deps: UploadChunkDeps, input: UploadChunkInput, signal?: AbortSignal): Promise<UploadOutcome> {
  const { stream, range } = input;
  const handle = await openStreamFile(deps.watchDir, stream.relPath, stream.identity);
  let bytes: Buffer;
  try {
    bytes = await readExactly(handle, range.offset, range.size);
  } finally {
    await handle.close();
  }
  const digest = createHash('sha256').update(bytes).digest();
  const checksum = digest.toString('base64');
  const key = chunkKey(stream.prefix, range.index);
  const base = { ...range, key, sha256: digest.toString('hex') };

  const existing = await headObject(deps, key, signal);
  if (existing && existing.ChecksumSHA256 === checksum && existing.ContentLength === range.size) {
    const uploadedAt = existing.Metadata?.[UPLOADED_AT] ?? existing.LastModified?.toISOString() ?? new Date().toISOString();
    return { record: { ...base, etag: existing.ETag ?? '', uploadedAt }, sent: false };
  }

  const uploadedAt = new Date().toISOString();
  const put = await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: key,
      Body: bytes,
      ContentLength: range.size,
      ChecksumSHA256: checksum,
      ContentType: 'application/octet-stream',
      Metadata: { [UPLOADED_AT]: uploadedAt },
    }),
    { abortSignal: signal },
  );
  return { record: { ...base, etag: put.ETag ?? '', uploadedAt }, sent: true };
}

async function headObject(deps: UploadChunkDeps, key: string, signal?: AbortSignal): Promise<HeadObjectCommandOutput | null> {
  try {
    return await deps.s3.send(new HeadObjectCommand({ Bucket: deps.bucket, Key: key, ChecksumMode: 'ENABLED' }), { abortSignal: signal });
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
}
