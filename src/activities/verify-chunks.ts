import type { FileHandle } from 'node:fs/promises';
import type { ChunkRecord } from '../stream/types';
import { HASH_READ_SIZE, hashRange } from './stream-file';

export interface VerifyResult {
  /** Indexes of chunks whose bytes on disk no longer match the uploaded object. */
  changed: number[];
  fileSize: number;
}

/**
 * Compares every uploaded chunk with the file as it is now. Recorders rewrite bytes they already
 * wrote (ffmpeg patches the `mdat` size in chunk 0 when it stops; `+faststart` shifts every byte),
 * so this runs before a stream is declared complete. One buffer is reused: memory stays flat.
 */
export async function findChangedChunks(handle: FileHandle, chunks: ChunkRecord[], onChunk?: (index: number) => void): Promise<VerifyResult> {
  const { size: fileSize } = await handle.stat();
  const buffer = Buffer.allocUnsafe(HASH_READ_SIZE);
  const changed: number[] = [];
  for (const chunk of chunks) {
    onChunk?.(chunk.index);
    if (chunk.offset + chunk.size > fileSize || (await hashRange(handle, chunk.offset, chunk.size, buffer))?.toString('hex') !== chunk.sha256) {
      changed.push(chunk.index);
    }
  }
  return { changed, fileSize };
}
