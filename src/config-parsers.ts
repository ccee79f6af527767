import { isIP } from 'node:net';
import { STORAGE_CLASSES, type ConfigVariable, type StorageClass } from './config-variables';

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
};

/** Parses `10485760`, `10MiB`, `512 KiB`, `5MB` into bytes. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? SIZE_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new Error('is not a size (examples: 10485760, 10MiB, 512KiB, 5MB)');
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new Error('is too large');
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `30s`, `2m`, `1h` (or a bare number of milliseconds) into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!match) throw new Error('is not a duration (examples: 500ms, 30s, 2m, 1h)');
  return Math.round(Number(match[1]) * DURATION_UNITS[(match[2] ?? 'ms').toLowerCase()]);
}

export function parseBoolean(text: string): boolean {
  const value = text.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(value)) return true;
  if (['false', '0', 'no', 'off', ''].includes(value)) return false;
  throw new Error('is not a boolean (true or false)');
}

/** One of `values`, whatever the case. */
export function parseOneOf<T extends string>(values: readonly T[]): (text: string) => T {
  return (text) => {
    const value = text.trim().toLowerCase();
    const known = values.find((candidate) => candidate.toLowerCase() === value);
    if (known === undefined) throw new Error(`is not one of ${values.join(', ')}`);
    return known;
  };
}

/** The ends of a variable's range in the configuration table, as the operator writes them. */
function rangeOf(variable: ConfigVariable): { min: string; max?: string } {
  if (variable.range === undefined || !('min' in variable.range)) throw new Error('has no range in the table');
  return variable.range;
}

/** A number `parse` reads, within the variable's range; anything else fails with `describe`'s message. */
function bounded(parse: (text: string) => number, describe: (min: string, max?: string) => string) {
  return (text: string, variable: ConfigVariable): number => {
    const { min, max } = rangeOf(variable);
    const value = parse(text);
    // NaN, a number that is not whole, fails both comparisons.
    if (!(value >= parse(min) && (max === undefined || value <= parse(max)))) throw new Error(describe(min, max));
    return value;
  };
}

const wholeNumber = (text: string): number => (Number.isInteger(Number(text)) ? Number(text) : Number.NaN);

export const parseSizeWithin = bounded(parseSize, (min, max) => `must be from ${min} to ${max}`);
export const parseDurationWithin = bounded(parseDuration, (min, max) => `must be from ${min} to ${max}`);
export const parseCount = bounded(wholeNumber, (min, max) => `is not a whole number from ${min} to ${max}`);
export const parsePort = bounded(wholeNumber, (min, max) => `is not a port (${min}-${max})`);
const parseBytesPerSecond = bounded(parseSize, (min) => `must be at least ${min} (per second), or empty for no limit`);

/** `50MB`, `5MiB/s` and the like (a size per second), or empty for no limit. */
export function parseRate(text: string, variable: ConfigVariable): number | undefined {
  if (text.trim() === '') return undefined;
  return parseBytesPerSecond(text.replace(/\/s\s*$/i, ''), variable);
}

export function parseListenAddress(text: string): string {
  const address = text.trim();
  if (isIP(address) === 0) throw new Error('must be an IP address (127.0.0.1, or 0.0.0.0 for every interface)');
  return address;
}

/**
 * Comma-separated file-name patterns: `*` stands for any characters and `?` for one, matched
 * against the name without its folders, whatever the case (`*.mp4` matches `CAM.MP4`).
 */
export function parseWatchPatterns(text: string): string[] {
  const patterns = text
    .split(',')
    .map((pattern) => pattern.trim())
    .filter((pattern) => pattern !== '');
  if (patterns.length === 0) throw new Error('must list at least one file-name pattern (example: *.mp4,*.mov)');
  for (const pattern of patterns) {
    if (pattern.includes('/') || pattern.includes('\\'))
      throw new Error('patterns match file names, not paths: no "/" or "\\" (example: *.mp4,*.mov)');
    if (pattern.startsWith('.'))
      throw new Error(
        'patterns must not start with "." (hidden files are never uploaded; for an extension write *.mkv)',
      );
  }
  return patterns;
}

export function parseStorageClass(text: string): StorageClass | undefined {
  const value = text.trim().toUpperCase();
  if (value === '') return undefined;
  if (value === 'GLACIER' || value === 'DEEP_ARCHIVE')
    throw new Error(
      'cannot be GLACIER or DEEP_ARCHIVE: the app reads its manifests back, and those need a restore first (GLACIER_IR can be read at once)',
    );
  if (!(STORAGE_CLASSES as readonly string[]).includes(value))
    throw new Error(`is not one of ${STORAGE_CLASSES.join(', ')}`);
  return value as StorageClass;
}
