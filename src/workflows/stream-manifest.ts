import { upsertSearchAttributes } from '@temporalio/workflow';
import type { AssembledObject, ManifestSummary } from '../stream/manifest';
import { StreamBytesUploadedKey } from '../stream/search-attributes';
import type { FileSnapshot, StreamFailure, StreamRef, StreamStatus, StreamUploadState } from '../stream/types';
import type { WriteManifestInput } from '../activities/activity-io';
import type { StreamActivityProxies } from './stream-activities';
import type { StreamControl } from './stream-control';

/** Upload records carried in workflow state before they are written out to metadata.json. */
const MAX_PENDING_RECORDS = 200;

/** What a final manifest says beyond the stream's state; none of it for a live one. */
export interface ManifestDetails {
  durationSeconds?: number | null;
  error?: StreamFailure;
  assembled?: AssembledObject;
  /** The run ends before it opened the stream (see `WriteManifestInput.unopened`). */
  unopened?: boolean;
}

/** The stream's settings a manifest depends on. */
export interface ManifestSettings {
  stream: StreamRef;
  chunkSize: number;
  idleTimeoutMs: number;
  /** The live manifest is written at most this often. */
  intervalMs: number;
}

/**
 * The stream's metadata.json as the workflow sees it: what it says of the carried state, when the
 * live one is due, and the records pending until it is written.
 */
export class StreamManifest {
  /** When this run last wrote it: the next live one is due `intervalMs` later. */
  private lastWrittenAt = 0;

  constructor(
    private readonly state: StreamUploadState,
    private readonly settings: ManifestSettings,
    private readonly control: StreamControl,
    private readonly activities: StreamActivityProxies['manifests'],
  ) {}

  get intervalMs(): number {
    return this.settings.intervalMs;
  }

  /** Whether the live manifest is to be written with the next `newRecords` uploads. */
  isDue(newRecords: number): boolean {
    return (
      Date.now() - this.lastWrittenAt >= this.settings.intervalMs ||
      this.state.pendingChunks.length + newRecords >= MAX_PENDING_RECORDS
    );
  }

  /** The manifest of the stream's first `count` chunks, as it stands now. */
  input(status: StreamStatus, count: number, details: ManifestDetails = {}): WriteManifestInput {
    const { state, settings } = this;
    return {
      stream: settings.stream,
      status,
      revision: state.revision,
      previousRevision: state.previousRevision,
      rewrittenChunks: state.rewrittenChunks,
      file: state.file,
      chunkSize: settings.chunkSize,
      chunkCount: count,
      pendingChunks: state.pendingChunks,
      startedAt: state.startedAt,
      completedAt: status === 'recording' ? null : new Date().toISOString(),
      durationSeconds: details.durationSeconds ?? null,
      error: details.error,
      assembled: details.assembled,
      idleTimeoutMs: settings.idleTimeoutMs,
      ...(details.unopened ? { unopened: true } : {}),
    };
  }

  /** Writes the manifest of `file` (by default the file as last seen). */
  async record(
    status: StreamStatus,
    count: number,
    details: ManifestDetails = {},
    file: FileSnapshot = this.state.file,
  ): Promise<ManifestSummary> {
    const input = this.input(status, count, details);
    const summary = await this.control.unblocked(() => this.activities.writeManifest({ ...input, file }));
    this.written(summary.totalSize);
    return summary;
  }

  /** An activity wrote it: the pending records are in metadata.json now. */
  written(totalSize: number): void {
    this.state.pendingChunks = [];
    this.lastWrittenAt = Date.now();
    upsertSearchAttributes([{ key: StreamBytesUploadedKey, value: totalSize }]);
  }
}
