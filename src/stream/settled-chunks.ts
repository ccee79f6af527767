import type { ChunkRecord, ChunksChecked } from './types';

/**
 * Filesystems date writes with a coarse clock (a jiffy on Linux, 2 s on FAT): a write in the same
 * tick as an earlier look at the file can leave its mtime unchanged. Once the mtime is this old,
 * any later write gives the file a newer one.
 */
export const MTIME_SETTLE_MS = 2_000;

/**
 * The mtime under which bytes read now stay the file's bytes for as long as its mtime does not
 * change; undefined while the file may still be written within the mtime's tick.
 */
export function settledMtime(mtimeMs: number, nowMs: number): number | undefined {
  return nowMs - mtimeMs >= MTIME_SETTLE_MS ? mtimeMs : undefined;
}

/**
 * Whether a stored chunk still holds the file's bytes without reading them again: they were read
 * (uploaded, or checked against the file) under the mtime the file still has. Recorders rewrite
 * bytes they wrote (ffmpeg patches its header at stop), so any other chunk is read again.
 */
export function isSettled(chunk: ChunkRecord, mtimeMs: number, checked?: ChunksChecked): boolean {
  return (
    chunk.sourceMtimeMs === mtimeMs ||
    (checked !== undefined && chunk.index < checked.count && checked.mtimeMs === mtimeMs)
  );
}
