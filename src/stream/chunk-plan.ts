import type { ChunkRange } from './types';

/** At most this many chunks, and this many bytes, go up in one upload activity. */
export const MAX_BATCH_CHUNKS = 16;
export const MAX_BATCH_BYTES = 256 * 2 ** 20;

/** The byte range of chunk `index` in a file of `fileSize` bytes cut into `chunkSize` pieces. */
export function chunkRange(index: number, chunkSize: number, fileSize: number): ChunkRange {
  const offset = index * chunkSize;
  return { index, offset, size: Math.max(0, Math.min(chunkSize, fileSize - offset)) };
}

/** How many chunks one upload activity carries: a backlog goes up in few round trips. */
export function batchChunks(chunkSize: number): number {
  return Math.max(1, Math.min(MAX_BATCH_CHUNKS, Math.floor(MAX_BATCH_BYTES / chunkSize)));
}

/**
 * The full chunks a stream can upload now, from `nextIndex` on, at most `maxChunks`: one activity
 * carries a backlog in a few round trips, while a live stream still sends each chunk as soon as it
 * is complete. The short tail is not among them: it waits for the end of the stream.
 */
export function nextFullChunks(
  nextIndex: number,
  chunkSize: number,
  fileSize: number,
  maxChunks: number,
): ChunkRange[] {
  const available = Math.floor(fileSize / chunkSize) - nextIndex;
  return Array.from({ length: Math.max(0, Math.min(available, maxChunks)) }, (_, i) =>
    chunkRange(nextIndex + i, chunkSize, fileSize),
  );
}

/** How many chunks the whole file makes (a zero-byte file makes none). */
export function chunkCount(chunkSize: number, fileSize: number): number {
  return Math.ceil(fileSize / chunkSize);
}

/** How many full chunks of the file are still intact when it has shrunk to `fileSize`. */
export function intactFullChunks(nextIndex: number, chunkSize: number, fileSize: number): number {
  return Math.min(nextIndex, Math.floor(fileSize / chunkSize));
}

/**
 * Whether a file that went from `before` to `after` bytes has a new full chunk (or shrank): the
 * changes its stream must hear of at once. Other growth can wait, since the idle timer goes by
 * the file's own modification time.
 */
export function completesChunk(before: number, after: number, chunkSize: number): boolean {
  return after < before || Math.floor(after / chunkSize) > Math.floor(before / chunkSize);
}
