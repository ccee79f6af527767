import type { ChunkRange } from './types';

/** The byte range of chunk `index` in a file of `fileSize` bytes cut into `chunkSize` pieces. */
export function chunkRange(index: number, chunkSize: number, fileSize: number): ChunkRange {
  const offset = index * chunkSize;
  return { index, offset, size: Math.max(0, Math.min(chunkSize, fileSize - offset)) };
}

/**
 * The next chunk to upload, or null when there is none yet. While the file may still grow only
 * full chunks go up; the short tail waits for the end of the stream (`final`).
 */
export function nextChunk(nextIndex: number, chunkSize: number, fileSize: number, final: boolean): ChunkRange | null {
  const range = chunkRange(nextIndex, chunkSize, fileSize);
  if (range.size === chunkSize || (final && range.size > 0)) return range;
  return null;
}

/** How many chunks the whole file makes (a zero-byte file makes none). */
export function chunkCount(chunkSize: number, fileSize: number): number {
  return Math.ceil(fileSize / chunkSize);
}

/** How many full chunks of the file are still intact when it has shrunk to `fileSize`. */
export function intactFullChunks(nextIndex: number, chunkSize: number, fileSize: number): number {
  return Math.min(nextIndex, Math.floor(fileSize / chunkSize));
}
