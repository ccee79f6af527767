/** Where a stream's objects live in the bucket. */

const INDEX_DIGITS = 6;

export function chunkKey(streamPrefix: string, index: number): string {
  return `${streamPrefix}/chunks/${String(index).padStart(INDEX_DIGITS, '0')}`;
}

/** Hex digits of a chunk's SHA-256 that name its alternate object. */
const ALTERNATE_DIGITS = 16;

/**
 * Where a chunk goes when `chunkKey` already holds other bytes: no chunk object is ever overwritten
 * with other bytes, so whatever an earlier manifest lists stays readable until a complete one
 * supersedes it (see `writeManifest`). Named by its content, so a retry, or a later run with the
 * same bytes, finds it again.
 */
export function alternateChunkKey(streamPrefix: string, index: number, sha256: string): string {
  return `${chunkKey(streamPrefix, index)}.${sha256.slice(0, ALTERNATE_DIGITS)}`;
}

export function manifestKey(streamPrefix: string): string {
  return `${streamPrefix}/metadata.json`;
}

/** Where the pages of a stream's chunk records are (see `ChunkRecordPages`). */
export function chunkRecordsKeyPrefix(streamPrefix: string): string {
  return `${streamPrefix}/chunk-records/`;
}

export function chunkRecordsPageKey(streamPrefix: string, page: number): string {
  return `${chunkRecordsKeyPrefix(streamPrefix)}${String(page).padStart(INDEX_DIGITS, '0')}.json`;
}

/** The inverse of chunkKey and alternateChunkKey, for listing; null for keys that are not chunks of this stream. */
export function chunkIndexOfKey(streamPrefix: string, key: string): number | null {
  return numberInKey(streamPrefix, key, /^chunks\/(\d+)(?:\.[0-9a-f]+)?$/);
}

/** The inverse of chunkRecordsPageKey; null for keys that are not record pages of this stream. */
export function recordsPageOfKey(streamPrefix: string, key: string): number | null {
  return numberInKey(streamPrefix, key, /^chunk-records\/(\d+)\.json$/);
}

function numberInKey(streamPrefix: string, key: string, pattern: RegExp): number | null {
  const match = pattern.exec(key.startsWith(`${streamPrefix}/`) ? key.slice(streamPrefix.length + 1) : '');
  return match ? Number(match[1]) : null;
}
