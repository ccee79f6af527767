/**
 * The types that cross boundaries: workflow input and state, signals, progress (the activities' own
 * inputs and results are in activities/activity-io.ts).
 * Pure data only, so the workflow bundle can import them.
 */

/** What distinguishes one file from a later file created under the same path. */
export interface FileIdentity {
  ino: number;
  /** Creation time in ms since the epoch; 0 where the filesystem does not record it. */
  birthtimeMs: number;
}

/** The identity of a stream: one file, one workflow, one prefix in the bucket. */
export interface StreamRef {
  /** Stable and readable: `<path relative to WATCH_DIR>@<identity>`. */
  streamId: string;
  workflowId: string;
  /** Relative to WATCH_DIR, with `/` separators. */
  relPath: string;
  /** The stream's folder in the bucket, without a trailing slash. */
  prefix: string;
  identity: FileIdentity;
}

/** The observable state of the file on disk: what the watcher signals and `stat` returns. */
export interface FileSnapshot {
  size: number;
  mtimeMs: number;
}

/** One look at a file: which file it was, and its state then. */
export interface FileLook {
  identity: FileIdentity;
  snapshot: FileSnapshot;
}

export type FileObservation =
  | ({ status: 'present' } & FileSnapshot)
  | { status: 'missing' }
  /** The path now names another file (deleted and re-created, or renamed over). */
  | { status: 'replaced' };

/** The file as the stream is about to be declared complete: its state, and its media duration. */
export interface FileInspection {
  observation: FileObservation;
  /** Seconds; null when the file has none that can be read (not an MP4, or an unfinished one). */
  durationSeconds: number | null;
}

/** A byte range of the file that becomes one object. */
export interface ChunkRange {
  index: number;
  offset: number;
  size: number;
}

/** A chunk that is in the bucket. */
export interface ChunkRecord extends ChunkRange {
  key: string;
  /** Hex SHA-256 of the chunk's bytes, verified by the S3 server on upload. */
  sha256: string;
  etag: string;
  /** ISO-8601 time of the upload that stored these bytes (kept identical across retries). */
  uploadedAt: string;
  /**
   * The file's mtime when these bytes were read, if it was settled then (see `settledMtime`): the
   * chunk holds the file's bytes for as long as the file keeps this mtime.
   */
  sourceMtimeMs?: number;
}

/**
 * What a follow has uploaded so far: new chunks from its first index, and rewritten ones again. A
 * cancelled follow reports it in its `CancelledFailure`'s details.
 */
export interface FollowProgress {
  records: ChunkRecord[];
  rewritten: ChunkRecord[];
}

/** Chunks [0, count) were found equal to the file's bytes when its mtime was `mtimeMs` (settled). */
export interface ChunksChecked {
  count: number;
  mtimeMs: number;
}

export type StreamStatus = 'recording' | 'complete' | 'cancelled' | 'failed';

/** An earlier finalized manifest of the same stream, which a later one supersedes. */
export interface PreviousRevision {
  revision: number;
  status: Exclude<StreamStatus, 'recording'>;
  totalSize: number;
  completedAt: string | null;
}

export interface StreamFailure {
  type: string;
  message: string;
}

/** Everything a workflow run carries over to the next run when it continues as new. */
export interface StreamUploadState {
  /** Chunks [0, nextIndex) are in the bucket, each `chunkSize` bytes long. */
  nextIndex: number;
  /** Uploaded chunks whose records are not yet in the stream's metadata.json. */
  pendingChunks: ChunkRecord[];
  /** The newest state of the file the workflow knows of. */
  file: FileSnapshot;
  /** ISO-8601. */
  startedAt: string;
  /** Paused by an operator: nothing is uploaded until resumed. */
  paused: boolean;
  /** 1 for a stream's first manifest; one more each time a later run finalizes it again. */
  revision: number;
  previousRevision?: PreviousRevision;
  /** Chunks found changed on disk after their upload (re-uploaded, or dropped when the file shrank). */
  rewrittenChunks: number;
  /** What the last check of the chunks against the quiet file settled: completing need not read them again. */
  checked?: ChunksChecked;
}

export interface StreamUploadInput {
  stream: StreamRef;
  chunkSize: number;
  idleTimeoutMs: number;
  /** The file as the watcher saw it when it started the workflow. */
  file: FileSnapshot;
  /** History length at which a run continues as new; the default suits Temporal's limits. */
  maxHistoryEvents?: number;
  /** How often, at most, the live manifest (status `recording`) is rewritten; default 5 s. */
  manifestIntervalMs?: number;
  /**
   * Check every chunk against the bucket instead of trusting an earlier manifest (`reupload`):
   * missing or different objects are sent again, identical ones are not.
   */
  reverifyBucket?: boolean;
  /** POST the final manifest to the worker's COMPLETION_WEBHOOK_URL once the stream is complete. */
  notifyCompletion?: boolean;
  /** Compose the whole recording as one object (ASSEMBLE). */
  assemble?: boolean;
  /** AFTER_UPLOAD=delete: delete the file once the stream is complete and its chunks checked in the bucket. */
  deleteAfterUpload?: boolean;
  /** The task queue of the host that has the file: every activity of the stream runs there. */
  fileTaskQueue: string;
  /** Full chunks of a backlog uploaded at once (UPLOAD_CONCURRENCY); 1 keeps them in order. */
  uploadConcurrency?: number;
  /** Present when continuing as new. */
  state?: StreamUploadState;
}

/** What a running stream is doing: its manifest status, or waiting for an operator. */
export type StreamPhase = StreamStatus | 'paused' | 'blocked';

export interface StreamProgress {
  streamId: string;
  relPath: string;
  status: StreamPhase;
  /** Why the stream is blocked: a failure retrying cannot heal, waiting for `resume`. */
  blockedBy?: StreamFailure;
  fileSize: number;
  uploadedBytes: number;
  chunksUploaded: number;
  lastActivityAt: string;
}
