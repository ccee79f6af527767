import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Manifest, ManifestWithChunks } from '../../src/stream/manifest';
import { downloadStreamSha256, getObject, listKeys, listObjects, readManifestObject } from '../support/bucket';
import { sha256File } from '../support/media';
import { countUploads, versionHistory, type ObjectVersion, type UploadCounts } from '../support/object-versions';

/**
 * Checks what the bucket holds against the files on disk, without the app's code: object names
 * follow README's layout, bytes are downloaded and hashed, uploads are counted from the server's
 * object versions.
 */

/**
 * `complete`: the bucket must hold the file byte for byte. `failed`: the file went away mid-stream.
 * `deleted`: the file went away at some point; its scenario checks the stream itself, and the
 * audit only counts its objects as the stream's.
 */
export type Outcome = 'complete' | 'failed' | 'deleted';

export interface ExpectedStream {
  relPath: string;
  /** The bytes to compare with: the file itself, or for a deleted file a hard link kept to it. */
  file: string;
  /** `<S3_PREFIX>/<relative path>/<inode>-<birth time ms>`. */
  prefix: string;
  outcome: Outcome;
}

export interface Expectation {
  outcome?: Outcome;
  file?: string;
}

/** The stream a file in `watchDir` must become; call it while the file exists. */
export function expectStream(
  watchDir: string,
  s3Prefix: string,
  relPath: string,
  expectation: Expectation = {},
): ExpectedStream {
  const stats = fs.statSync(path.join(watchDir, relPath));
  const prefix = [s3Prefix, relPath, `${stats.ino}-${Math.trunc(stats.birthtimeMs)}`]
    .filter((part) => part !== '')
    .join('/');
  return { relPath, prefix, outcome: 'complete', file: path.join(watchDir, relPath), ...expectation };
}

const manifestKeyOf = (stream: ExpectedStream) => `${stream.prefix}/metadata.json`;

/** Null once the stream is where it must end, else what it is still at. */
function pendingReason(stream: ExpectedStream, manifest: Manifest | undefined): string | null {
  if (stream.outcome === 'deleted') return null;
  if (!manifest) return 'no manifest';
  if (stream.outcome === 'failed') return manifest.status === 'failed' ? null : `status ${manifest.status}`;
  const stats = fs.statSync(stream.file);
  const current =
    manifest.status === 'complete' &&
    manifest.totalSize === stats.size &&
    Math.abs(manifest.source.mtimeMs - stats.mtimeMs) < 1;
  return current ? null : `status ${manifest.status}, ${manifest.totalSize} of ${stats.size} bytes`;
}

/**
 * Polls until every stream has its final manifest, or `timeoutMs` passes (a hang). Returns the
 * streams still pending then, with what each was at. One listing a round tells which manifests
 * changed; only those are read again, so that polling thousands of streams stays cheap.
 */
export async function waitForStreams(
  s3: S3Client,
  bucket: string,
  streams: ExpectedStream[],
  timeoutMs: number,
): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  if (streams.length === 0) return new Map();
  const common = commonPrefix(streams.map((stream) => stream.prefix));
  const read = new Map<string, { etag: string; manifest: Manifest }>();
  for (;;) {
    const etags = new Map((await listObjects(s3, bucket, common)).map((object) => [object.key, object.etag]));
    const pending = new Map<string, string>();
    await mapLimit(streams, 8, async (stream) => {
      const key = manifestKeyOf(stream);
      const etag = etags.get(key);
      if (etag !== undefined && read.get(key)?.etag !== etag) {
        read.set(key, { etag, manifest: JSON.parse((await getObject(s3, bucket, key)).toString('utf8')) as Manifest });
      }
      const reason = pendingReason(stream, etag === undefined ? undefined : read.get(key)?.manifest);
      if (reason !== null) pending.set(stream.relPath, reason);
    });
    if (pending.size === 0 || Date.now() > deadline) return pending;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export interface Audit {
  streams: number;
  /** Source bytes compared. */
  bytes: number;
  /** Streams whose bytes in the bucket differ from the source. */
  mismatched: string[];
  /**
   * Complete manifests stored less than the idle timeout after the file's last change they record:
   * the stream ended although its file had not been idle that long (a consumer, or the completion
   * webhook, then takes part of a recording for the whole).
   */
  prematureCompletions: string[];
  /** Chunk versions the server stored, sorted into repeats of identical bytes and rewrites. */
  chunkUploads: UploadCounts;
  /** Every version of every object, for checks of one stream's history. */
  history: Map<string, ObjectVersion[]>;
  /** The final manifest of each stream, by relative path. */
  manifests: Map<string, Manifest>;
  /** Everything that breaks "nothing lost, nothing doubled", one line each. */
  problems: string[];
}

/** A chunk's object, or its alternate (other bytes of the same chunk: see `alternateChunkKey`). */
const CHUNK_KEY = /\/chunks\/\d+(\.[0-9a-f]{16})?$/;
const STREAM_OBJECT = /\/(chunks\/\d+(\.[0-9a-f]{16})?|chunk-records\/\d+\.json|metadata\.json|recording\.mp4)$/;

export async function auditBucket(
  s3: S3Client,
  bucket: string,
  s3Prefix: string,
  streams: ExpectedStream[],
  idleTimeoutMs: number,
): Promise<Audit> {
  const problems: string[] = [];
  const keysByPrefix = new Map<string, string[]>(streams.map((stream) => [stream.prefix, []]));
  for (const key of await listKeys(s3, bucket, `${s3Prefix}/`)) {
    const owner = keysByPrefix.get(key.replace(STREAM_OBJECT, ''));
    if (owner && STREAM_OBJECT.test(key)) owner.push(key);
    else problems.push(`object of no expected stream: ${key}`);
  }
  const history = await versionHistory(s3, bucket, `${s3Prefix}/`);
  const mismatched: string[] = [];
  const prematureCompletions: string[] = [];
  const manifests = new Map<string, ManifestWithChunks>();
  let bytes = 0;
  await mapLimit(streams, 8, async (stream) => {
    const fail = (problem: string) => problems.push(`${stream.relPath}: ${problem}`);
    if (stream.outcome === 'deleted') return;
    let manifest: ManifestWithChunks;
    try {
      manifest = await readManifestObject(s3, bucket, manifestKeyOf(stream));
    } catch (err) {
      return fail(`no valid manifest (${(err as Error).message})`);
    }
    manifests.set(stream.relPath, manifest);
    if (manifest.status !== stream.outcome) fail(`manifest status ${manifest.status}, expected ${stream.outcome}`);
    const listed = manifest.chunks.map((chunk) => chunk.key).sort();
    let stored = keysByPrefix
      .get(stream.prefix)!
      .filter((key) => CHUNK_KEY.test(key))
      .sort();
    // A final manifest removes what it does not list after it is written: give that a moment.
    for (let looks = 0; looks < 25 && JSON.stringify(listed) !== JSON.stringify(stored); looks++) {
      await sleep(200);
      stored = (await listKeys(s3, bucket, `${stream.prefix}/chunks/`)).filter((key) => CHUNK_KEY.test(key)).sort();
    }
    if (JSON.stringify(listed) !== JSON.stringify(stored))
      fail(`bucket holds ${stored.length} chunks, the manifest lists ${listed.length}: not the same`);
    const sourceSize = fs.statSync(stream.file).size;
    if (stream.outcome === 'complete' && manifest.totalSize !== sourceSize)
      fail(`manifest covers ${manifest.totalSize} of ${sourceSize} bytes`);
    // A failed stream holds a prefix of the file: what was uploaded before it went away.
    const compared = stream.outcome === 'complete' ? sourceSize : Math.min(manifest.totalSize, sourceSize);
    bytes += compared;
    const downloaded = await downloadStreamSha256(s3, bucket, manifest).catch(
      (err: Error) => `unreadable: ${err.message}`,
    );
    if (downloaded !== (await sha256File(stream.file, compared))) mismatched.push(stream.relPath);
    for (const { manifest: version, storedAtMs } of await manifestVersions(s3, bucket, stream, history)) {
      const idleMs = storedAtMs - version.source.mtimeMs;
      if (version.status === 'complete' && idleMs < idleTimeoutMs) {
        prematureCompletions.push(
          `${stream.relPath}: complete at ${version.totalSize} of ${sourceSize} bytes, stored ${Math.round(idleMs)} ms after the file's last change`,
        );
      }
    }
  });
  for (const relPath of mismatched) problems.push(`${relPath}: bytes in the bucket differ from the source`);
  for (const premature of prematureCompletions)
    problems.push(`manifest said complete before the file was idle: ${premature}`);
  const chunkUploads = countUploads(history, (key) => CHUNK_KEY.test(key));
  for (const duplicate of chunkUploads.duplicates)
    problems.push(`chunk uploaded again with identical bytes: ${duplicate.key}`);
  return {
    streams: streams.length,
    bytes,
    mismatched,
    prematureCompletions,
    chunkUploads,
    history,
    manifests,
    problems,
  };
}

/** Every version of the stream's metadata.json the server kept, oldest first, with when it was stored. */
export async function manifestVersions(
  s3: S3Client,
  bucket: string,
  stream: ExpectedStream,
  history: Map<string, ObjectVersion[]>,
): Promise<{ manifest: Manifest; storedAtMs: number }[]> {
  const key = manifestKeyOf(stream);
  const versions: { manifest: Manifest; storedAtMs: number }[] = [];
  for (const version of history.get(key) ?? []) {
    if (version.deleteMarker) continue;
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: version.versionId }));
    versions.push({
      manifest: JSON.parse(await object.Body!.transformToString('utf8')) as Manifest,
      storedAtMs: version.lastModifiedMs,
    });
  }
  return versions;
}

function commonPrefix(texts: string[]): string {
  let length = 0;
  while (length < texts[0].length && texts.every((text) => text[length] === texts[0][length])) length++;
  return texts[0].slice(0, length);
}

/** Runs `fn` over `items`, at most `limit` at a time, keeping their order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  });
  await Promise.all(lanes);
  return results;
}
