import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { log } from '@temporalio/activity';
import type { Manifest } from '../stream/manifest';
import type { ChunkRecord, StreamRef } from '../stream/types';
import type { LocalFileDeletion } from './activity-io';
import { type ActivityDeps } from './activity-deps';
import { streamLogFields } from '../stream/identity';
import { withHeartbeat } from './heartbeat';
import { readChunkRecords, readManifest, recordLocalFile, type StoredManifest } from './store/manifest-store';
import { headObject, storedWithChecksum } from './store/stored-object';
import { observeFile, resolveInWatchDir } from './file/stream-file';

/** Chunk objects checked at once. */
const CHECKS_AT_ONCE = 8;

/** Errors that say the app may not delete the file: the operator must change the mount or the modes. */
const REFUSED = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * AFTER_UPLOAD=delete: deletes the stream's file once revision `revision` of it is complete in the
 * bucket, and records that in its manifest. It deletes only the file that manifest describes (the
 * same file, size and mtime), and only once every chunk the manifest lists is in the bucket with
 * its SHA-256; otherwise the file stays and the reason comes back. Idempotent: a retry after a
 * crash finds the file gone and records it.
 */
export async function deleteLocalFile(
  deps: ActivityDeps,
  { stream, revision }: { stream: StreamRef; revision: number },
): Promise<LocalFileDeletion> {
  const fields = streamLogFields(stream);
  const stored = await readManifest(deps, stream.prefix);
  const manifest = stored?.manifest;
  if (manifest?.status !== 'complete' || manifest.revision !== revision)
    return { outcome: 'kept', reason: `the bucket's manifest is no longer complete revision ${revision}` };
  if (manifest.localFile) return { outcome: 'deleted', deletedAt: manifest.localFile.deletedAt, bytes: 0 };
  const observed = await observeFile(deps.watchDir, stream.relPath, stream.identity);
  if (observed.status === 'missing') {
    // Deleted by an attempt that died before recording it, or by someone else: gone either way.
    const deletedAt = new Date().toISOString();
    await recordLocalFile(deps, stream.prefix, revision, { deletedAt });
    return { outcome: 'deleted', deletedAt, bytes: 0 };
  }
  if (!describes(manifest, observed))
    return { outcome: 'kept', reason: 'the file changed after its complete manifest: a new revision follows' };
  const missing = await withHeartbeat((signal) => unverifiedChunks(deps, stream.prefix, stored!, signal));
  if (missing.length > 0) {
    log.error('uploaded file kept: chunks of its complete manifest are not in the bucket', {
      ...fields,
      chunks: missing.slice(0, 10),
    });
    return { outcome: 'kept', reason: `chunks not in the bucket as listed: ${missing.slice(0, 10).join(', ')}` };
  }
  // The recorder may have written to it while the chunks were checked.
  const again = await observeFile(deps.watchDir, stream.relPath, stream.identity);
  if (again.status !== 'present' || !describes(manifest, again))
    return { outcome: 'kept', reason: 'the file changed while its chunks were checked: a new revision follows' };
  try {
    await fs.unlink(await resolveInWatchDir(deps.watchDir, stream.relPath));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!REFUSED.has(code)) throw err;
    log.error(
      'uploaded file kept: the app may not delete it (AFTER_UPLOAD=delete needs WATCH_DIR writable by the app)',
      {
        ...fields,
        code,
      },
    );
    return { outcome: 'kept', reason: `the app may not delete it (${code})` };
  }
  const deletedAt = new Date().toISOString();
  deps.metrics.localFilesDeleted.inc();
  deps.metrics.localBytesFreed.inc(manifest.totalSize);
  log.info('uploaded file deleted', { ...fields, bytes: manifest.totalSize });
  await recordLocalFile(deps, stream.prefix, revision, { deletedAt });
  return { outcome: 'deleted', deletedAt, bytes: manifest.totalSize };
}

function describes(manifest: Manifest, file: { status: string; size?: number; mtimeMs?: number }): boolean {
  return file.status === 'present' && file.size === manifest.totalSize && file.mtimeMs === manifest.source.mtimeMs;
}

/** The indexes of listed chunks the bucket lacks or holds with other bytes (none: every byte is there). */
async function unverifiedChunks(
  deps: ActivityDeps,
  streamPrefix: string,
  stored: StoredManifest,
  signal: AbortSignal,
): Promise<number[]> {
  const { manifest } = stored;
  const records = await readChunkRecords(deps, streamPrefix, stored, 0, manifest.chunkCount);
  const missing: number[] = [];
  let end = 0;
  for (let i = 0; i < manifest.chunkCount; i++) {
    const record = records[i];
    if (record?.index !== i || record.offset !== end) missing.push(i);
    end = record ? record.offset + record.size : end;
  }
  if (end !== manifest.totalSize && !missing.includes(manifest.chunkCount - 1)) missing.push(manifest.chunkCount - 1);
  for (let at = 0; at < records.length; at += CHECKS_AT_ONCE) {
    const batch = records.slice(at, at + CHECKS_AT_ONCE);
    const held = await Promise.all(batch.map((record) => holdsChunk(deps, record, signal)));
    batch.forEach((record, i) => held[i] || missing.push(record.index));
  }
  return [...new Set(missing)].sort((a, b) => a - b);
}

/**
 * Whether the bucket holds the chunk's bytes: the SHA-256 the server checked when it stored them,
 * or, from a server that keeps none, the SHA-256 of the bytes read back.
 */
async function holdsChunk(deps: ActivityDeps, record: ChunkRecord, signal: AbortSignal): Promise<boolean> {
  const head = await headObject(deps.s3, deps.bucket, record.key, signal);
  if (!head || head.ContentLength !== record.size) return false;
  if (head.ChecksumSHA256) return storedWithChecksum(head, record.size, record.sha256);
  try {
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: record.key }), {
      abortSignal: signal,
    });
    const hash = createHash('sha256');
    for await (const part of object.Body as AsyncIterable<Uint8Array>) hash.update(part);
    return hash.digest('hex') === record.sha256;
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return false;
    throw err;
  }
}
