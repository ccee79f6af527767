import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { log } from '@temporalio/activity';
import { chunkCount, chunkRange } from '../stream/chunk-plan';
import type { AssembledObject } from '../stream/manifest';
import { chunkKey } from '../stream/object-keys';
import type { ChunkRecord, StreamRef } from '../stream/types';
import { streamLogFields } from '../stream/identity';
import { loadChunkRecords } from './store/manifest-store';
import { withHeartbeat } from './heartbeat';
import { openStreamFile, readExactly } from './file/stream-file';

/** S3's multipart limits: every part but the last at least 5 MiB, at most 10,000 parts. */
const MIN_PART_SIZE = 5 * 2 ** 20;
const MAX_PARTS = 10_000;

export interface AssembleInput {
  stream: StreamRef;
  chunkSize: number;
  fileSize: number;
  /**
   * Uploads the stream's manifest does not list yet: the chunks to copy are those it is about to
   * list. Absent from inputs scheduled before chunks could have alternate keys.
   */
  pendingChunks?: ChunkRecord[];
}

export interface AssembleDeps {
  s3: S3Client;
  bucket: string;
  watchDir: string;
}

export function assembledKey(streamPrefix: string): string {
  return `${streamPrefix}/recording.mp4`;
}

/** The recording as one object (see `composeRecording`), heartbeating the parts done. */
export async function assembleRecording(deps: AssembleDeps, input: AssembleInput): Promise<AssembledObject> {
  let parts = 0;
  const assembled = await withHeartbeat(
    (signal) => composeRecording(deps, input, () => parts++, signal),
    () => ({ parts }),
  );
  log.info('recording assembled', {
    ...streamLogFields(input.stream),
    key: assembled.key,
    copiedParts: assembled.copiedParts,
    uploadedParts: assembled.uploadedParts,
  });
  return assembled;
}

/**
 * Composes the whole recording as one object next to the chunks. Where the chunks can be parts
 * (at least 5 MiB, at most 10,000 of them) the server copies them: no byte is sent again. Else the
 * parts are read from the file, which was just verified to equal the chunks. The whole-file SHA-256
 * comes from the file as well.
 */
export async function composeRecording(
  deps: AssembleDeps,
  input: AssembleInput,
  onPart: () => void,
  signal?: AbortSignal,
): Promise<AssembledObject> {
  const { stream, chunkSize, fileSize } = input;
  const key = assembledKey(stream.prefix);
  const sha256 = await hashFile(deps, stream, fileSize, onPart);
  if (fileSize === 0) {
    const put = await deps.s3.send(
      new PutObjectCommand({ Bucket: deps.bucket, Key: key, Body: Buffer.alloc(0), ContentType: 'video/mp4' }),
      { abortSignal: signal },
    );
    return { key, size: 0, sha256, etag: put.ETag ?? '', copiedParts: 0, uploadedParts: 0 };
  }
  const upload = await deps.s3.send(
    new CreateMultipartUploadCommand({ Bucket: deps.bucket, Key: key, ContentType: 'video/mp4' }),
    { abortSignal: signal },
  );
  const uploadId = upload.UploadId!;
  const byCopy = chunkSize >= MIN_PART_SIZE && chunkCount(chunkSize, fileSize) <= MAX_PARTS;
  try {
    const parts = byCopy
      ? await copyChunks(deps, input, uploadId, onPart, signal)
      : await sendParts(deps, input, uploadId, onPart, signal);
    const done = await deps.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: deps.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
      { abortSignal: signal },
    );
    return {
      key,
      size: fileSize,
      sha256,
      etag: done.ETag ?? '',
      copiedParts: byCopy ? parts.length : 0,
      uploadedParts: byCopy ? 0 : parts.length,
    };
  } catch (err) {
    await deps.s3
      .send(new AbortMultipartUploadCommand({ Bucket: deps.bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
    throw err;
  }
}

async function copyChunks(
  deps: AssembleDeps,
  input: AssembleInput,
  uploadId: string,
  onPart: () => void,
  signal?: AbortSignal,
): Promise<CompletedPart[]> {
  const parts: CompletedPart[] = [];
  const { prefix } = input.stream;
  const count = chunkCount(input.chunkSize, input.fileSize);
  // Scheduled by a release before alternate chunk keys (no pendingChunks in its input): every
  // chunk of it is at its plain key, and its pending records are not in the stored manifest yet.
  const keys =
    input.pendingChunks === undefined
      ? Array.from({ length: count }, (_, index) => chunkKey(prefix, index))
      : (await loadChunkRecords(deps, prefix, input.pendingChunks, 0, count)).map((chunk) => chunk.key);
  for (const [index, key] of keys.entries()) {
    const source = `${deps.bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
    const copied = await deps.s3.send(
      new UploadPartCopyCommand({
        Bucket: deps.bucket,
        Key: assembledKey(input.stream.prefix),
        UploadId: uploadId,
        PartNumber: index + 1,
        CopySource: source,
      }),
      { abortSignal: signal },
    );
    parts.push({ PartNumber: index + 1, ETag: copied.CopyPartResult?.ETag });
    onPart();
  }
  return parts;
}

async function sendParts(
  deps: AssembleDeps,
  input: AssembleInput,
  uploadId: string,
  onPart: () => void,
  signal?: AbortSignal,
): Promise<CompletedPart[]> {
  const partSize = Math.max(MIN_PART_SIZE, Math.ceil(input.fileSize / MAX_PARTS));
  const { handle } = await openStreamFile(deps.watchDir, input.stream.relPath, input.stream.identity);
  const buffer = Buffer.allocUnsafe(partSize);
  const parts: CompletedPart[] = [];
  try {
    for (let index = 0; index < chunkCount(partSize, input.fileSize); index++) {
      const range = chunkRange(index, partSize, input.fileSize);
      const body = await readExactly(handle, range.offset, range.size, buffer);
      const sent = await deps.s3.send(
        new UploadPartCommand({
          Bucket: deps.bucket,
          Key: assembledKey(input.stream.prefix),
          UploadId: uploadId,
          PartNumber: index + 1,
          Body: body,
          ContentLength: range.size,
        }),
        { abortSignal: signal },
      );
      parts.push({ PartNumber: index + 1, ETag: sent.ETag });
      onPart();
    }
  } finally {
    await handle.close();
  }
  return parts;
}

async function hashFile(deps: AssembleDeps, stream: StreamRef, fileSize: number, onBlock: () => void): Promise<string> {
  const hash = createHash('sha256');
  const { handle } = await openStreamFile(deps.watchDir, stream.relPath, stream.identity);
  const buffer = Buffer.allocUnsafe(1 << 20);
  try {
    for (let offset = 0; offset < fileSize; offset += buffer.length) {
      hash.update(await readExactly(handle, offset, Math.min(buffer.length, fileSize - offset), buffer));
      onBlock();
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}
