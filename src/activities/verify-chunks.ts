import type { FileHandle } from 'node:fs/promises';
import { log } from '@temporalio/activity';
import { isSettled } from '../stream/settled-chunks';
import type { ChunkRecord, ChunksChecked, FileSnapshot } from '../stream/types';
import type { VerifyChunksInput } from './activity-io';
import { type ActivityDeps } from './activity-deps';
import { streamLogFields } from '../stream/identity';
import { withHeartbeat } from './heartbeat';
import type { UploadPriority } from './store/upload-rate';
import { loadChunkRecords } from './store/manifest-store';
import { HASH_READ_SIZE, openStreamFile } from './file/stream-file';
import type { ChunkFingerprints } from './file/chunk-fingerprints';

export interface VerifyResult {
  /** Indexes of chunks whose bytes on disk no longer match the uploaded object. */
  changed: number[];
  fileSize: number;
  /** The file's mtime when the check began. */
  mtimeMs: number;
  /** Chunks read to check them; the others were read under the mtime the file still has. */
  read: number;
}

/**
 * Compares the uploaded chunks with the file, as it was when opened (its size and mtime given).
 * Recorders rewrite bytes they already wrote (ffmpeg patches the `mdat` size in chunk 0 when it
 * stops; `+faststart` shifts every byte), so this runs before a stream is declared complete. A
 * chunk read under the mtime the file still has (when uploaded, or by an earlier check:
 * `checked`) cannot differ and is not read again, so a backlog, or a recording checked while
 * quiet, is not re-read at the end. A chunk this process read to upload is compared by its
 * fingerprint (see `ChunkFingerprints`). One buffer is reused: memory stays flat.
 */
export async function findChangedChunks(
  fingerprints: ChunkFingerprints,
  handle: FileHandle,
  { size: fileSize, mtimeMs }: FileSnapshot,
  chunks: ChunkRecord[],
  checked?: ChunksChecked,
  onChunk?: (index: number) => void,
): Promise<VerifyResult> {
  const buffer = Buffer.allocUnsafe(HASH_READ_SIZE);
  const changed: number[] = [];
  let read = 0;
  for (const chunk of chunks) {
    onChunk?.(chunk.index);
    if (chunk.offset + chunk.size > fileSize) {
      changed.push(chunk.index);
      continue;
    }
    if (isSettled(chunk, mtimeMs, checked)) continue;
    read++;
    if (!(await fingerprints.holds(handle, chunk, buffer))) changed.push(chunk.index);
  }
  return { changed, fileSize, mtimeMs, read };
}

/**
 * Compares chunks [0, chunkCount) of a stream with its file (see `findChangedChunks`) once one of
 * the process's check slots is free; says so when some changed.
 */
export async function checkChunks(
  deps: ActivityDeps,
  { stream, chunkCount, pendingChunks, checked }: VerifyChunksInput,
  priority: UploadPriority,
  signal: AbortSignal,
  onChunk?: (index: number) => void,
): Promise<VerifyResult> {
  const chunks = await loadChunkRecords(deps, stream.prefix, pendingChunks, 0, chunkCount);
  const result = await deps.checkSlots.use(
    async () => {
      const { handle, snapshot } = await openStreamFile(deps.watchDir, stream.relPath, stream.identity);
      try {
        return await findChangedChunks(deps.fingerprints, handle, snapshot, chunks, checked, onChunk);
      } finally {
        await handle.close();
      }
    },
    signal,
    priority,
  );
  deps.metrics.chunksReread.inc(result.read);
  if (result.changed.length > 0) {
    log.warn('file changed after upload: re-uploading the chunks it rewrote', {
      ...streamLogFields(stream),
      changed: result.changed.length,
      fileSize: result.fileSize,
    });
  }
  return result;
}

/** The check before a stream completes, heartbeating the chunk it reads. */
export async function verifyChunks(deps: ActivityDeps, input: VerifyChunksInput): Promise<VerifyResult> {
  let checking = 0;
  return withHeartbeat(
    (signal) => checkChunks(deps, input, 'backlog', signal, (index) => (checking = index)),
    () => ({ checking }),
  );
}
