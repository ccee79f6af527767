import type { FileSnapshot } from './types';

/**
 * Whether an observation tells something new about the file. Signals can arrive late and out of
 * order, so an older observation never replaces a newer one; a same-time observation of another
 * size (a write within the filesystem's timestamp granularity) does.
 */
export function isNewer(known: FileSnapshot, observed: FileSnapshot): boolean {
  if (observed.mtimeMs !== known.mtimeMs) return observed.mtimeMs > known.mtimeMs;
  return observed.size !== known.size;
}

export function sameSnapshot(a: FileSnapshot, b: FileSnapshot): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}
