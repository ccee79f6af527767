import type { FileHandle } from 'node:fs/promises';
import { isSettled } from '../stream/settled-chunks';
import type { ChunkRecord, ChunksChecked, FileSnapshot } from '../stream/types';
import { HASH_READ_SIZE, hashRange } from './stream-file';

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
 * quiet, is not re-read at the end. One buffer is reused: memory stays flat.
 */
export async function findChangedChunks(
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
    if ((await hashRange(handle, chunk.offset, chunk.size, buffer))?.toString('hex') !== chunk.sha256)
      changed.push(chunk.index);
  }
  return { changed, fileSize, mtimeMs, read };
}
