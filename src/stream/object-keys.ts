/** Where a stream's objects live in the bucket. */

const INDEX_DIGITS = 6;

export function chunkKey(streamPrefix: string, index: number): string {
  return `${streamPrefix}/chunks/${String(index).padStart(INDEX_DIGITS, '0')}`;
}

export function manifestKey(streamPrefix: string): string {
  return `${streamPrefix}/metadata.json`;
}

/** The inverse of chunkKey, for listing; null for keys that are not chunks of this stream. */
export function chunkIndexOfKey(streamPrefix: string, key: string): number | null {
  const match = /^chunks\/(\d+)$/.exec(key.startsWith(`${streamPrefix}/`) ? key.slice(streamPrefix.length + 1) : '');
  return match ? Number(match[1]) : null;
}
