import type { FileIdentity, StreamRef } from './types';

/**
 * Temporal refuses a workflow id longer than its `limit.maxIDLength` (255 bytes in the compose's
 * dynamic config, a usual production setting), and S3 a key over 1,024 bytes. SQL visibility
 * stores keep a Keyword search attribute in 255 characters.
 */
const MAX_WORKFLOW_ID_BYTES = 255;
const MAX_KEY_BYTES = 1024;
const MAX_SEARCH_KEYWORD_BYTES = 255;
/** Room for the longest key under a stream's prefix (`/chunk-records/0000000000.json` and the like). */
const KEY_SUFFIX_BYTES = 64;
/** The longest S3_PREFIX the configuration accepts: the stream's own names keep the rest. */
export const MAX_S3_PREFIX_BYTES = 512;

const utf8 = new TextEncoder();
const bytesOf = (text: string) => utf8.encode(text).length;

/** The file's identity as names carry it: the birth time in whole milliseconds. */
export function fileIdentity(stats: FileIdentity): FileIdentity {
  return { ino: stats.ino, birthtimeMs: Math.trunc(stats.birthtimeMs) };
}

/**
 * Derives a stream's names from the file's path and identity. The identity is part of every name
 * so that a new recording saved under an old name never overwrites the old one's objects. A path
 * too long for a name is shortened there (see `shortenPath`); the manifest keeps it whole.
 */
export function streamRef(relPath: string, identity: FileIdentity, s3Prefix: string): StreamRef {
  const id = fileIdentity(identity);
  const token = `${id.ino}-${id.birthtimeMs}`;
  const workflowPrefix = 'stream:';
  const idPath = shortenPath(relPath, MAX_WORKFLOW_ID_BYTES - bytesOf(`${workflowPrefix}@${token}`));
  const keyRoom = MAX_KEY_BYTES - KEY_SUFFIX_BYTES - bytesOf(`${s3Prefix}//${token}`);
  const streamId = `${idPath}@${token}`;
  return {
    streamId,
    workflowId: `${workflowPrefix}${streamId}`,
    relPath,
    prefix: [s3Prefix, shortenPath(relPath, keyRoom), token].filter((part) => part !== '').join('/'),
    identity: id,
  };
}

/**
 * Null when `stream` carries the names this configuration derives from its path and identity;
 * else what differs. Activities write and delete under a stream's prefix: a workflow input made
 * up by hand, or started under another S3_PREFIX, must not lead them to other objects.
 */
export function streamNamesProblem(stream: StreamRef, s3Prefix: string): string | null {
  const expected = streamRef(stream.relPath, stream.identity, s3Prefix);
  if (stream.prefix !== expected.prefix)
    return `the stream's S3 prefix ${JSON.stringify(stream.prefix)} is not the one this host's S3_PREFIX gives its file (${JSON.stringify(expected.prefix)})`;
  if (stream.streamId !== expected.streamId)
    return `the stream id ${JSON.stringify(stream.streamId)} is not its file's (${JSON.stringify(expected.streamId)})`;
  return null;
}

/** The stream's `StreamPath` search attribute: its path, shortened as its names are when too long. */
export function streamPathAttribute(relPath: string): string {
  return shortenPath(relPath, MAX_SEARCH_KEYWORD_BYTES);
}

/**
 * `relPath` if it fits in `maxBytes` of UTF-8; else its end (the file name, what an operator
 * recognizes) after `…/`-style elision, and a hash of the whole path, so that two long paths
 * ending alike still get different names: `…<end of the path>~<16 hex digits>`.
 */
export function shortenPath(relPath: string, maxBytes: number): string {
  if (bytesOf(relPath) <= maxBytes) return relPath;
  const hash = `~${fnv1a64(relPath)}`;
  let room = maxBytes - bytesOf('…') - hash.length;
  const kept: string[] = [];
  for (const char of [...relPath].reverse()) {
    room -= bytesOf(char);
    if (room < 0) break;
    kept.push(char);
  }
  return `…${kept.reverse().join('')}${hash}`;
}

/** FNV-1a, 64 bits: a stable, dependency-free hash (not a security measure). */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of utf8.encode(text)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

/** Whether `candidate` names the same file as `identity` (birth time 0 means "not recorded"). */
export function sameFile(identity: FileIdentity, candidate: FileIdentity): boolean {
  const [known, seen] = [fileIdentity(identity), fileIdentity(candidate)];
  return known.ino === seen.ino && known.birthtimeMs === seen.birthtimeMs;
}

/** The fields every log line about a stream carries. */
export function streamLogFields(stream: StreamRef): { streamId: string } {
  return { streamId: stream.streamId };
}
