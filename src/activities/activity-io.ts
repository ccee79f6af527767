import type { ManifestFields, ManifestSummary } from '../stream/manifest';
import type {
  ChunkRange,
  ChunkRecord,
  ChunksChecked,
  FileSnapshot,
  PreviousRevision,
  StreamRef,
} from '../stream/types';

// What the activities take and give: the boundary between the workflow and the file's host.

export interface UploadChunksInput {
  stream: StreamRef;
  /** Consecutive chunks; their records come back in this order. */
  ranges: ChunkRange[];
  /** How many of them may be in flight at once; 1 stores them strictly in order. */
  concurrency: number;
}

/** What AFTER_UPLOAD=delete did with a complete stream's file. */
export type LocalFileDeletion =
  | { outcome: 'deleted'; deletedAt: string; bytes: number }
  /** The file stays: `reason` says why (it changed, a chunk is not in the bucket, no permission). */
  | { outcome: 'kept'; reason: string };

export interface OpenStreamInput {
  stream: StreamRef;
  file: FileSnapshot;
  chunkSize: number;
  /** Trust no earlier manifest: every chunk is checked against the bucket again. */
  reverifyBucket: boolean;
}

export interface OpenStreamResult {
  /** Set when the bucket already holds this file, complete and unchanged: nothing to upload. */
  completed: ManifestSummary | null;
  /** Full chunks an earlier run stored that this run builds on (checked again at the end). */
  reusableChunks: number;
  /** The revision this run writes, and the finalized manifest it supersedes. */
  revision: number;
  previousRevision?: PreviousRevision;
}

export interface WriteManifestInput extends ManifestFields {
  chunkCount: number;
  pendingChunks: ChunkRecord[];
  /**
   * The run ended (cancelled, failed) before it opened the stream: it knows no revision and
   * uploaded nothing, so a manifest already in the bucket stays as it is. Absent: opened.
   */
  unopened?: boolean;
  /** For the finalize-latency metric: the part of the wait that is by design. */
  idleTimeoutMs: number;
}

export interface FollowFileInput {
  stream: StreamRef;
  chunkSize: number;
  /** The first chunk the stream has not uploaded. */
  nextIndex: number;
  /** Chunks in flight at once when several are complete (UPLOAD_CONCURRENCY). */
  concurrency: number;
  /**
   * The idle timeout: the follow ends once the file is idle, and the stream then completes.
   * Named `settleMs` because histories of running streams carry it so.
   */
  settleMs: number;
  /** The live manifest as the stream knows it: the follow adds its records and rewrites it. */
  liveManifest: WriteManifestInput;
  manifestIntervalMs: number;
  /** What the stream's last check settled (see `isSettled`). */
  checked?: ChunksChecked;
  /**
   * Complete the stream when the file goes idle, if nothing is left to decide (see
   * `FollowIo.complete`): no round trips to the workflow between the idle file and its manifest.
   * Absent from inputs scheduled before follows completed.
   */
  completeWhenIdle?: boolean;
}

export interface VerifyChunksInput {
  stream: StreamRef;
  chunkCount: number;
  pendingChunks: ChunkRecord[];
  /** What the stream's last check settled: those chunks are not read again if still settled. */
  checked?: ChunksChecked;
}

export interface UploadChunksActivityInput extends UploadChunksInput {
  /** When the workflow learnt the chunks' bytes were on disk (the file's mtime then): for the chunk-lag metric. */
  bytesCompleteAtMs: number;
  /**
   * When the live manifest is due: written once the chunks are stored, with their records after
   * the pending ones, in the same activity (one round trip, and fewer history events, per chunk).
   */
  liveManifest?: WriteManifestInput;
}
