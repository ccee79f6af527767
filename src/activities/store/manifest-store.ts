import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  buildManifest,
  chunkRecordPages,
  chunksOfPage,
  MANIFEST_SCHEMA_VERSION,
  mergeChunkRecords,
  pageOfChunk,
  pagesToWrite,
  type ChunkRecordPage,
  type LocalFile,
  type Manifest,
  type ManifestFields,
} from '../../stream/manifest';
import {
  chunkIndexOfKey,
  chunkRecordsKeyPrefix,
  chunkRecordsPageKey,
  manifestKey,
  recordsPageOfKey,
} from '../../stream/object-keys';
import type { ChunkRecord } from '../../stream/types';

export interface ManifestStoreDeps {
  s3: S3Client;
  bucket: string;
}

/** A stream's metadata.json as the bucket holds it. */
export interface StoredManifest {
  manifest: Manifest;
  /** A manifest of schema 1 lists its chunk records itself, without pages: the next write pages them. */
  inlineChunks?: ChunkRecord[];
}

/** Pages read at once: a day-long recording has about seventy. */
const PAGE_READS_AT_ONCE = 8;

/**
 * The stream's metadata.json, or null when there is none. One that is not a manifest of ours is
 * treated as absent: the stream is then checked and uploaded again, and identical chunks are not
 * re-sent, so nothing is lost by distrusting it.
 */
export async function readManifest(deps: ManifestStoreDeps, streamPrefix: string): Promise<StoredManifest | null> {
  const parsed = await getJson(deps, manifestKey(streamPrefix));
  if (!parsed || typeof parsed !== 'object') return null;
  const stored = parsed as Partial<Manifest> & { chunks?: unknown };
  if (stored.schemaVersion === MANIFEST_SCHEMA_VERSION && stored.chunkRecords) return { manifest: stored as Manifest };
  if ((stored.schemaVersion as number) === 1 && Array.isArray(stored.chunks)) {
    const { chunks, ...fields } = stored as Manifest & { chunks: ChunkRecord[] };
    const chunkRecords = chunkRecordPages(streamPrefix, fields.chunkCount);
    return { manifest: { ...fields, schemaVersion: MANIFEST_SCHEMA_VERSION, chunkRecords }, inlineChunks: chunks };
  }
  return null;
}

/** The stored records of chunks [first, end), of those the manifest counts: read from its pages. */
export async function readChunkRecords(
  deps: ManifestStoreDeps,
  streamPrefix: string,
  stored: StoredManifest,
  first: number,
  end: number,
): Promise<ChunkRecord[]> {
  const last = Math.min(end, stored.manifest.chunkCount);
  if (first >= last) return [];
  const wanted = (record: ChunkRecord) => record.index >= first && record.index < last;
  if (stored.inlineChunks) return stored.inlineChunks.filter(wanted);
  const pages = Array.from(
    { length: pageOfChunk(last - 1) - pageOfChunk(first) + 1 },
    (_, offset) => pageOfChunk(first) + offset,
  );
  const records: ChunkRecord[] = [];
  for (let at = 0; at < pages.length; at += PAGE_READS_AT_ONCE) {
    const read = await Promise.all(
      pages.slice(at, at + PAGE_READS_AT_ONCE).map((page) => getJson(deps, chunkRecordsPageKey(streamPrefix, page))),
    );
    for (const page of read) records.push(...((page as ChunkRecordPage | null)?.chunks ?? []).filter(wanted));
  }
  return records;
}

/**
 * The records of chunks [first, end): uploads the stored manifest does not list yet (`pending`),
 * laid over its records. The stored ones are read only where `pending` lacks an index: it can
 * hold one index twice (a tail sent, then sent again whole), so its records are not counted.
 */
export async function loadChunkRecords(
  deps: ManifestStoreDeps,
  streamPrefix: string,
  pending: ChunkRecord[],
  first: number,
  end: number,
  stored: () => Promise<StoredManifest | null> = () => readManifest(deps, streamPrefix),
): Promise<ChunkRecord[]> {
  const pendingIndexes = new Set(pending.map((record) => record.index));
  let missing = first;
  while (missing < end && pendingIndexes.has(missing)) missing++;
  if (missing === end) return mergeChunkRecords([], pending, first, end);
  const manifest = await stored();
  const base = manifest ? await readChunkRecords(deps, streamPrefix, manifest, missing, end) : [];
  return mergeChunkRecords(base, pending, first, end);
}

/**
 * Writes the manifest of the stream's first `chunkCount` chunks: the pages that `pending` (the
 * records since the stored manifest) changes, then metadata.json, which counts them, so that a
 * reader never finds metadata.json counting a record not yet written. Returns the manifest and
 * the bytes written, which stay bounded however long the stream is. `storedManifest` is the
 * bucket's, when the caller has just read it.
 */
export async function saveManifest(
  deps: ManifestStoreDeps,
  fields: ManifestFields,
  pending: ChunkRecord[],
  chunkCount: number,
  storedManifest?: StoredManifest | null,
): Promise<{ manifest: Manifest; bytesWritten: number }> {
  const { prefix } = fields.stream;
  const stored = storedManifest === undefined ? await readManifest(deps, prefix) : storedManifest;
  let bytesWritten = 0;
  let lastChunk: ChunkRecord | undefined;
  const storedCount = stored && !stored.inlineChunks ? stored.manifest.chunkCount : 0;
  for (const page of pagesToWrite(pending, chunkCount, storedCount)) {
    const { first, end } = chunksOfPage(page, chunkCount);
    const chunks = await loadChunkRecords(deps, prefix, pending, first, end, async () => stored);
    const contents: ChunkRecordPage = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      streamId: fields.stream.streamId,
      page,
      chunks,
    };
    bytesWritten += await putJson(deps, chunkRecordsPageKey(prefix, page), contents);
    if (end === chunkCount) lastChunk = chunks[chunks.length - 1];
  }
  const manifest = buildManifest(fields, chunkCount, lastChunk);
  bytesWritten += await putJson(deps, manifestKey(prefix), manifest);
  return { manifest, bytesWritten };
}

/**
 * Adds `localFile` to the stored manifest, if it is still complete revision `revision` (a later
 * revision describes another file). Only metadata.json is written: the chunk records stay.
 */
export async function recordLocalFile(
  deps: ManifestStoreDeps,
  streamPrefix: string,
  revision: number,
  localFile: LocalFile,
): Promise<void> {
  const stored = await readManifest(deps, streamPrefix);
  if (stored?.manifest.status !== 'complete' || stored.manifest.revision !== revision || stored.inlineChunks) return;
  await putJson(deps, manifestKey(streamPrefix), { ...stored.manifest, localFile });
}

/** Keys deleted in one request: S3's limit. */
const DELETES_AT_ONCE = 1000;

/**
 * Removes what a final manifest (just saved) does not list: chunk objects and pages of records
 * past its end (a file that shrank, chunks stored out of order before a cancel) and, with
 * `superseded` (a complete manifest), the other objects of a chunk it lists: bytes an earlier
 * revision stored, which it supersedes. Returns how many chunk objects went.
 */
export async function deleteUnlisted(
  deps: ManifestStoreDeps,
  streamPrefix: string,
  saved: Manifest,
  superseded: boolean,
): Promise<number> {
  const objectsOfChunk = new Map<number, string[]>();
  for (const key of await listKeys(deps, `${streamPrefix}/chunks/`)) {
    const index = chunkIndexOfKey(streamPrefix, key);
    if (index !== null) objectsOfChunk.set(index, [...(objectsOfChunk.get(index) ?? []), key]);
  }
  const staleChunks: string[] = [];
  for (const [index, keys] of objectsOfChunk) {
    if (index >= saved.chunkCount) staleChunks.push(...keys);
    else if (superseded && keys.length > 1) {
      // Only a chunk stored under two keys needs its record read: one object is the listed one.
      const [listed] = await readChunkRecords(deps, streamPrefix, { manifest: saved }, index, index + 1);
      if (listed) staleChunks.push(...keys.filter((key) => key !== listed.key));
    }
  }
  const stalePages = (await listKeys(deps, chunkRecordsKeyPrefix(streamPrefix))).filter(
    (key) => (recordsPageOfKey(streamPrefix, key) ?? -1) >= saved.chunkRecords.pages,
  );
  await deleteKeys(deps, [...staleChunks, ...stalePages]);
  return staleChunks.length;
}

async function listKeys(deps: ManifestStoreDeps, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await deps.s3.send(
      new ListObjectsV2Command({ Bucket: deps.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

async function deleteKeys(deps: ManifestStoreDeps, keys: string[]): Promise<void> {
  for (let at = 0; at < keys.length; at += DELETES_AT_ONCE) {
    const Objects = keys.slice(at, at + DELETES_AT_ONCE).map((Key) => ({ Key }));
    await deps.s3.send(new DeleteObjectsCommand({ Bucket: deps.bucket, Delete: { Objects } }));
  }
}

/** The parsed JSON object at `key`; null when there is none, or it is not JSON. */
async function getJson(deps: ManifestStoreDeps, key: string): Promise<unknown> {
  let text: string;
  try {
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: key }));
    text = (await object.Body?.transformToString('utf8')) ?? '';
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** Writes `value` as JSON; returns its size in bytes. */
async function putJson(deps: ManifestStoreDeps, key: string, value: unknown): Promise<number> {
  const body = JSON.stringify(value, null, 2);
  await deps.s3.send(
    new PutObjectCommand({ Bucket: deps.bucket, Key: key, Body: body, ContentType: 'application/json' }),
  );
  return Buffer.byteLength(body);
}
