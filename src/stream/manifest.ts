import { manifestKey } from './object-keys';
import type { ChunkRecord, FileSnapshot, PreviousRevision, StreamFailure, StreamRef, StreamStatus } from './types';

export const MANIFEST_SCHEMA_VERSION = 1;

/** The contents of `<stream prefix>/metadata.json`; `schema/metadata.schema.json` describes it. */
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
  chunks: ChunkRecord[];
  startedAt: string;
  /** Null while the stream is still recording. */
  completedAt: string | null;
  /** The media duration read from the MP4; null when the file has none that can be read. */
  durationSeconds: number | null;
  error?: StreamFailure;
  /** With ASSEMBLE=true: the whole recording as one object next to the chunks. */
  assembled?: AssembledObject;
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

/** What a workflow returns: the manifest without its chunk list, which can outgrow a Temporal payload. */
export type ManifestSummary = Omit<Manifest, 'chunks'> & { manifestKey: string };

/** What a manifest is built from: its own fields, plus the stream and the file it describes. */
export type ManifestFields = Pick<
  Manifest,
  'status' | 'revision' | 'previousRevision' | 'rewrittenChunks' | 'chunkSize' | 'chunks' | 'startedAt' | 'completedAt' | 'durationSeconds' | 'error' | 'assembled'
> & {
  stream: StreamRef;
  file: FileSnapshot;
};

export function buildManifest(fields: ManifestFields): Manifest {
  const { stream, file, chunks } = fields;
  const totalSize = chunks.reduce((sum, chunk) => sum + chunk.size, 0);
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
    totalSize,
    chunkSize: fields.chunkSize,
    chunkCount: chunks.length,
    chunks,
    startedAt: fields.startedAt,
    completedAt: fields.completedAt,
    durationSeconds: fields.durationSeconds,
    ...(fields.error ? { error: fields.error } : {}),
    ...(fields.assembled ? { assembled: fields.assembled } : {}),
  };
}

export function summarize(manifest: Manifest, streamPrefix: string): ManifestSummary {
  const { chunks: _chunks, ...summary } = manifest;
  return { ...summary, manifestKey: manifestKey(streamPrefix) };
}

/**
 * Lays records of later uploads over earlier ones (a chunk re-uploaded after the recorder rewrote
 * it replaces its first record) and keeps the first `count`. Throws when one is missing: a manifest
 * with a hole would silently lose bytes.
 */
export function mergeChunkRecords(base: ChunkRecord[], later: ChunkRecord[], count: number): ChunkRecord[] {
  const byIndex = new Map<number, ChunkRecord>();
  for (const record of [...base, ...later]) byIndex.set(record.index, record);
  const merged: ChunkRecord[] = [];
  for (let index = 0; index < count; index++) {
    const record = byIndex.get(index);
    if (!record) throw new Error(`no record of chunk ${index} (of ${count})`);
    merged.push(record);
  }
  return merged;
}

/**
 * The full chunks of an earlier manifest that a new run can build on: contiguous from 0 and of
 * the size this run cuts. Their bytes are checked against the file again before the stream ends.
 */
export function reusableChunks(manifest: Manifest, chunkSize: number): ChunkRecord[] {
  const reusable: ChunkRecord[] = [];
  for (const chunk of manifest.chunks) {
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
  if (stored.status === 'recording') return { revision, ...(stored.previousRevision ? { previousRevision: stored.previousRevision } : {}) };
  return {
    revision: revision + 1,
    previousRevision: { revision, status: stored.status, totalSize: stored.totalSize, completedAt: stored.completedAt },
  };
}

/** Whether a manifest already records the whole of the file as it is now. */
export function isCompleteFor(manifest: Manifest, file: FileSnapshot): boolean {
  return manifest.status === 'complete' && manifest.totalSize === file.size && manifest.source.mtimeMs === file.mtimeMs;
}
