import { chunkRecordsKeyPrefix, manifestKey } from './object-keys';
import type { ChunkRecord, FileSnapshot, PreviousRevision, StreamFailure, StreamRef, StreamStatus } from './types';

/** 2: chunk records in pages beside metadata.json. 1 listed them all in it (still read, never written). */
export const MANIFEST_SCHEMA_VERSION = 2;

/**
 * Chunk records per page. A live update rewrites only the pages its new records fall in (the
 * last one, usually) and metadata.json, so its cost does not grow with the recording: at most
 * about 33 KB per page, where one list of every record reached megabytes after a day.
 */
export const CHUNK_RECORDS_PER_PAGE = 100;

/**
 * The contents of `<stream prefix>/metadata.json`, the one place to read a stream's state;
 * `schema/metadata.schema.json` describes it. Its chunk records are in `chunkRecords`' pages.
 */
export interface Manifest {
  schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  streamId: string;
  workflowId: string;
  status: StreamStatus;
  /**
   * 1 for the stream's first manifest; one more each time a later run finalizes the stream again
   * (the file grew after it was complete, or was rewritten): consumers compare revisions.
   */
  revision: number;
  /** The finalized manifest this revision supersedes. */
  previousRevision?: PreviousRevision;
  /** Chunks found changed on disk after their upload in this revision, and uploaded again (or dropped). */
  rewrittenChunks: number;
  source: {
    /** Relative to WATCH_DIR. */
    path: string;
    /** ISO-8601 modification time of the file the chunks were checked against. */
    modifiedAt: string;
    mtimeMs: number;
    ino: number;
    birthtimeMs: number;
  };
  totalSize: number;
  chunkSize: number;
  chunkCount: number;
  chunkRecords: ChunkRecordPages;
  startedAt: string;
  /** Null while the stream is still recording. */
  completedAt: string | null;
  /** The media duration read from the MP4; null when the file has none that can be read. */
  durationSeconds: number | null;
  error?: StreamFailure;
  /** With ASSEMBLE=true: the whole recording as one object next to the chunks. */
  assembled?: AssembledObject;
  /** With AFTER_UPLOAD=delete: the recording's file, deleted once this complete revision was checked in the bucket. */
  localFile?: LocalFile;
}

export interface LocalFile {
  deletedAt: string;
}

export interface AssembledObject {
  key: string;
  size: number;
  /** Hex SHA-256 of the whole recording. */
  sha256: string;
  etag: string;
  /** Parts the server copied from chunk objects (no bytes re-sent) and parts sent from the file. */
  copiedParts: number;
  uploadedParts: number;
}

/**
 * Where the chunk records are: page `n` holds chunks [n × perPage, (n + 1) × perPage) at
 * `<keyPrefix><n, 6 digits>.json`; there are `pages` of them, the last one holding the rest.
 */
export interface ChunkRecordPages {
  keyPrefix: string;
  perPage: number;
  pages: number;
}

/** The contents of one page of chunk records. */
export interface ChunkRecordPage {
  schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  streamId: string;
  page: number;
  chunks: ChunkRecord[];
}

/** A manifest with every chunk record, as a consumer that reads the pages sees it. */
export type ManifestWithChunks = Manifest & { chunks: ChunkRecord[] };

/** What a workflow returns: the manifest and where it is. */
/** Whether the completion webhook took the final manifest (not stored in the manifest itself). */
export interface CompletionWebhookOutcome {
  delivered: boolean;
  /** Why not: the webhook's answer, or why it could not be reached, after the last attempt. */
  error?: string;
}

/** What a stream's workflow returns: its last manifest, where it is, and the webhook's outcome when one is set. */
export type ManifestSummary = Manifest & { manifestKey: string; completionWebhook?: CompletionWebhookOutcome };

/** What a manifest is built from: its own fields, plus the stream and the file it describes. */
export type ManifestFields = Pick<
  Manifest,
  | 'status'
  | 'revision'
  | 'previousRevision'
  | 'rewrittenChunks'
  | 'chunkSize'
  | 'startedAt'
  | 'completedAt'
  | 'durationSeconds'
  | 'error'
  | 'assembled'
> & {
  stream: StreamRef;
  file: FileSnapshot;
};

/** The manifest of a stream's first `chunkCount` chunks, the last of which is `lastChunk`. */
export function buildManifest(
  fields: ManifestFields,
  chunkCount: number,
  lastChunk: ChunkRecord | undefined,
): Manifest {
  const { stream, file } = fields;
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    streamId: stream.streamId,
    workflowId: stream.workflowId,
    status: fields.status,
    revision: fields.revision,
    ...(fields.previousRevision ? { previousRevision: fields.previousRevision } : {}),
    rewrittenChunks: fields.rewrittenChunks,
    source: {
      path: stream.relPath,
      modifiedAt: new Date(file.mtimeMs).toISOString(),
      mtimeMs: file.mtimeMs,
      ino: stream.identity.ino,
      birthtimeMs: stream.identity.birthtimeMs,
    },
    // Chunks are contiguous from byte 0: the last one ends the stream.
    totalSize: lastChunk ? lastChunk.offset + lastChunk.size : 0,
    chunkSize: fields.chunkSize,
    chunkCount,
    chunkRecords: chunkRecordPages(stream.prefix, chunkCount),
    startedAt: fields.startedAt,
    completedAt: fields.completedAt,
    durationSeconds: fields.durationSeconds,
    ...(fields.error ? { error: fields.error } : {}),
    ...(fields.assembled ? { assembled: fields.assembled } : {}),
  };
}

export function summarize(manifest: Manifest, streamPrefix: string): ManifestSummary {
  return { ...manifest, manifestKey: manifestKey(streamPrefix) };
}

export function chunkRecordPages(streamPrefix: string, chunkCount: number): ChunkRecordPages {
  return {
    keyPrefix: chunkRecordsKeyPrefix(streamPrefix),
    perPage: CHUNK_RECORDS_PER_PAGE,
    pages: Math.ceil(chunkCount / CHUNK_RECORDS_PER_PAGE),
  };
}

/** The page that holds a chunk's record. */
export function pageOfChunk(index: number): number {
  return Math.floor(index / CHUNK_RECORDS_PER_PAGE);
}

/** The chunks [first, end) of a page, in a stream of `chunkCount` chunks. */
export function chunksOfPage(page: number, chunkCount: number): { first: number; end: number } {
  const first = page * CHUNK_RECORDS_PER_PAGE;
  return { first, end: Math.min(chunkCount, first + CHUNK_RECORDS_PER_PAGE) };
}

/**
 * The pages a manifest update of `chunkCount` chunks writes: those of the chunks the stored
 * manifest does not count (`storedCount` of them; 0 when it lists its records inline, as schema 1
 * did), the last one (it ends the stream, and is cut short when the file shrank), and those of
 * the new records (chunks uploaded again). A live update thus writes one page or two, whatever
 * the stream's length.
 */
export function pagesToWrite(newRecords: ChunkRecord[], chunkCount: number, storedCount: number): number[] {
  if (chunkCount === 0) return [];
  const pages = new Set<number>();
  for (let page = pageOfChunk(Math.min(storedCount, chunkCount - 1)); page <= pageOfChunk(chunkCount - 1); page++)
    pages.add(page);
  for (const record of newRecords) if (record.index < chunkCount) pages.add(pageOfChunk(record.index));
  return [...pages].sort((a, b) => a - b);
}

/**
 * Lays records of later uploads over earlier ones (a chunk re-uploaded after the recorder rewrote
 * it replaces its first record) and keeps chunks [first, end). Throws when one is missing: a
 * manifest with a hole would silently lose bytes.
 */
export function mergeChunkRecords(
  base: ChunkRecord[],
  later: ChunkRecord[],
  first: number,
  end: number,
): ChunkRecord[] {
  const byIndex = new Map<number, ChunkRecord>();
  for (const record of [...base, ...later]) byIndex.set(record.index, record);
  const merged: ChunkRecord[] = [];
  for (let index = first; index < end; index++) {
    const record = byIndex.get(index);
    if (!record) throw new Error(`no record of chunk ${index} (of ${end})`);
    merged.push(record);
  }
  return merged;
}

/**
 * The full chunks of an earlier manifest's records that a new run can build on: contiguous from 0
 * and of the size this run cuts. Their bytes are checked against the file again before the stream
 * ends.
 */
export function reusableChunks(chunks: ChunkRecord[], chunkSize: number): ChunkRecord[] {
  const reusable: ChunkRecord[] = [];
  for (const chunk of chunks) {
    const index = reusable.length;
    if (chunk.index !== index || chunk.offset !== index * chunkSize || chunk.size !== chunkSize) break;
    reusable.push(chunk);
  }
  return reusable;
}

/**
 * The revision a new run of a stream writes, given the manifest already stored: a finalized one
 * (complete, cancelled or failed) is superseded by the next revision; a live one is carried on.
 */
export function nextRevision(stored: Manifest | null): { revision: number; previousRevision?: PreviousRevision } {
  if (!stored) return { revision: 1 };
  const { revision } = stored;
  if (stored.status === 'recording')
    return { revision, ...(stored.previousRevision ? { previousRevision: stored.previousRevision } : {}) };
  return {
    revision: revision + 1,
    previousRevision: { revision, status: stored.status, totalSize: stored.totalSize, completedAt: stored.completedAt },
  };
}

/**
 * The chunks a manifest of this run's first `count` chunks lists, given the manifest the bucket
 * holds. A complete one lists the file as it is, every chunk checked against it. Any other keeps
 * listing the stored manifest's chunks past this run's own: a re-run that is cancelled, fails or
 * is still going never un-lists what an earlier revision stored, so chunks leave the listing only
 * when a complete revision supersedes them. Over those, only this run's full chunks are laid (its
 * partial tail would leave a gap). A stored manifest cut in another chunk size is not extended.
 */
export function chunksToList(
  fields: Pick<ManifestFields, 'status' | 'chunkSize'>,
  count: number,
  pending: ChunkRecord[],
  stored: Pick<Manifest, 'chunkCount' | 'chunkSize'> | undefined,
): { count: number; pending: ChunkRecord[] } {
  if (fields.status === 'complete' || !stored || stored.chunkSize !== fields.chunkSize || stored.chunkCount <= count)
    return { count, pending };
  const end = stored.chunkCount;
  return {
    count: end,
    pending: pending.filter((record) => record.size === fields.chunkSize || record.index === end - 1),
  };
}

/**
 * Why the manifest in the bucket stays rather than the one about to be written, if it does:
 * - it is of a later revision: only a stale attempt writes an earlier one, whose chunks the later
 *   revision may have replaced;
 * - it is the complete one of the same revision, and this one is not: a cancel or a failure that
 *   reaches a run as its stream completes (a follow completes it itself) changes nothing the
 *   bucket holds. Its records are newer than the run's own, which would otherwise list chunks
 *   the completion has just removed.
 */
export function storedManifestStays(
  fields: Pick<ManifestFields, 'status' | 'revision'>,
  stored: Pick<Manifest, 'status' | 'revision'> | undefined,
): 'later revision' | 'completed' | undefined {
  if (!stored) return undefined;
  if (stored.revision > fields.revision) return 'later revision';
  if (stored.status === 'complete' && stored.revision === fields.revision && fields.status !== 'complete')
    return 'completed';
  return undefined;
}

/** Whether a manifest already records the whole of the file as it is now. */
export function isCompleteFor(manifest: Manifest, file: FileSnapshot): boolean {
  return manifest.status === 'complete' && manifest.totalSize === file.size && manifest.source.mtimeMs === file.mtimeMs;
}
