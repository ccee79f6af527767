import type { S3Client } from '@aws-sdk/client-s3';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { StreamMetrics } from '../metrics';
import { buildManifest, isCompleteFor, reusableChunks, summarize, type AssembledObject, type ManifestFields, type ManifestSummary } from '../stream/manifest';
import type { ChunkRange, ChunkRecord, FileObservation, FileSnapshot, StreamRef } from '../stream/types';
import { classify } from './failures';
import { withHeartbeat } from './heartbeat';
import { deleteChunksFrom, loadChunkRecords, putManifest, readManifest } from './manifest-store';
import { readMediaDurationSeconds } from './media-duration';
import { observeFile, openStreamFile, resolveInWatchDir } from './stream-file';
import { uploadChunk } from './upload-chunk';
import { findChangedChunks, type VerifyResult } from './verify-chunks';
import { postManifest } from './completion-webhook';
import { assembleRecording, type AssembleInput } from './assemble-recording';

export interface ActivityDeps {
  s3: S3Client;
  bucket: string;
  watchDir: string;
  metrics: StreamMetrics;
  completionWebhookUrl?: string;
}

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
}

export interface WriteManifestInput extends Omit<ManifestFields, 'chunks'> {
  chunkCount: number;
  pendingChunks: ChunkRecord[];
  /** For the finalize-latency metric: the part of the wait that is by design. */
  idleTimeoutMs: number;
}

export interface UploadChunkActivityInput {
  stream: StreamRef;
  range: ChunkRange;
  /** When the workflow learnt the chunk's bytes were on disk (the file's mtime then): for the chunk-lag metric. */
  bytesCompleteAtMs: number;
}

/**
 * The stream activities, bound to their dependencies (as Temporal's samples do it). Every error
 * goes through `classify`, which marks the ones retrying cannot heal as non-retryable.
 */
export function createActivities(deps: ActivityDeps) {
  const { metrics } = deps;
  const store = { s3: deps.s3, bucket: deps.bucket };
  const meta = (stream: StreamRef) => ({ streamId: stream.streamId });
  const classified =
    <I, O>(fn: (input: I) => Promise<O>) =>
    async (input: I): Promise<O> => {
      if (Context.current().info.attempt > 1) metrics.retries.inc();
      try {
        return await fn(input);
      } catch (err) {
        const error = classify(err);
        const reason = error instanceof CancelledFailure ? 'cancelled' : error instanceof ApplicationFailure ? (error.type ?? 'unknown') : 'transient';
        metrics.uploadFailures.inc({ reason });
        throw error;
      }
    };

  return {
    openStream: classified(async ({ stream, file, chunkSize, reverifyBucket }: OpenStreamInput): Promise<OpenStreamResult> => {
      const manifest = reverifyBucket ? null : await readManifest(store, stream.prefix);
      if (!manifest) return { completed: null, reusableChunks: 0 };
      if (isCompleteFor(manifest, file)) {
        log.info('stream already uploaded and unchanged', meta(stream));
        return { completed: summarize(manifest, stream.prefix), reusableChunks: 0 };
      }
      const reusable = reusableChunks(manifest, chunkSize).length;
      log.info('resuming stream from its stored manifest', { ...meta(stream), reusableChunks: reusable, storedStatus: manifest.status });
      return { completed: null, reusableChunks: reusable };
    }),

    observeStreamFile: classified(async ({ stream }: { stream: StreamRef }): Promise<FileObservation> => {
      return observeFile(deps.watchDir, stream.relPath, stream.identity);
    }),

    uploadChunk: classified(async (input: UploadChunkActivityInput): Promise<ChunkRecord> => {
      const stopTimer = metrics.chunkUploadDuration.startTimer();
      const outcome = await withHeartbeat((signal) => uploadChunk(deps, input, signal));
      if (outcome.sent) {
        stopTimer();
        metrics.chunksUploaded.inc();
        metrics.bytesUploaded.inc(input.range.size);
        metrics.chunkLag.observe(Math.max(0, Date.now() - input.bytesCompleteAtMs) / 1000);
      }
      log.info(outcome.sent ? 'chunk uploaded' : 'chunk already in the bucket', {
        ...meta(input.stream),
        chunk: input.range.index,
        bytes: input.range.size,
      });
      return outcome.record;
    }),

    verifyChunks: classified(
      async ({ stream, chunkCount, pendingChunks }: { stream: StreamRef; chunkCount: number; pendingChunks: ChunkRecord[] }): Promise<VerifyResult> => {
        const chunks = await loadChunkRecords(store, stream.prefix, pendingChunks, chunkCount);
        const handle = await openStreamFile(deps.watchDir, stream.relPath, stream.identity);
        let checking = 0;
        try {
          const result = await withHeartbeat(
            () => findChangedChunks(handle, chunks, (index) => (checking = index)),
            () => ({ checking }),
          );
          if (result.changed.length > 0) {
            log.warn('file changed after upload: re-uploading the chunks it rewrote', { ...meta(stream), changed: result.changed.length, fileSize: result.fileSize });
          }
          return result;
        } finally {
          await handle.close();
        }
      },
    ),

    readMediaDuration: classified(async ({ stream }: { stream: StreamRef }): Promise<number | null> => {
      const seconds = await readMediaDurationSeconds(resolveInWatchDir(deps.watchDir, stream.relPath));
      if (seconds === null) log.warn('no media duration could be read: not a complete MP4', meta(stream));
      return seconds;
    }),

    writeManifest: classified(async ({ chunkCount, pendingChunks, idleTimeoutMs, ...fields }: WriteManifestInput): Promise<ManifestSummary> => {
      const chunks = await loadChunkRecords(store, fields.stream.prefix, pendingChunks, chunkCount);
      const manifest = buildManifest({ ...fields, chunks });
      if (manifest.status !== 'recording') {
        const removed = await deleteChunksFrom(store, fields.stream.prefix, chunkCount);
        if (removed > 0) log.info('removed chunks past the end of the shrunk file', { ...meta(fields.stream), removed });
      }
      await putManifest(store, fields.stream.prefix, manifest);
      if (manifest.status !== 'recording') metrics.streamsFinished.inc({ status: manifest.status });
      if (manifest.status === 'complete') {
        metrics.finalizeLatency.observe(Math.max(0, Date.now() - fields.file.mtimeMs - idleTimeoutMs) / 1000);
      }
      log.info('manifest written', { ...meta(fields.stream), status: manifest.status, chunks: manifest.chunkCount, bytes: manifest.totalSize });
      return summarize(manifest, fields.stream.prefix);
    }),

    assembleRecording: classified(async (input: AssembleInput): Promise<AssembledObject> => {
      let parts = 0;
      const assembled = await withHeartbeat(
        (signal) => assembleRecording(deps, input, () => parts++, signal),
        () => ({ parts }),
      );
      log.info('recording assembled', { ...meta(input.stream), key: assembled.key, copiedParts: assembled.copiedParts, uploadedParts: assembled.uploadedParts });
      return assembled;
    }),

    notifyCompletion: classified(async ({ stream }: { stream: StreamRef }): Promise<void> => {
      if (!deps.completionWebhookUrl) {
        log.warn('no COMPLETION_WEBHOOK_URL on this worker: completion not notified', meta(stream));
        return;
      }
      const manifest = await readManifest(store, stream.prefix);
      if (!manifest) throw new Error(`no manifest for ${stream.streamId} to notify`);
      const status = await postManifest(deps.completionWebhookUrl, manifest, Context.current().cancellationSignal);
      log.info('completion webhook notified', { ...meta(stream), httpStatus: status });
    }),
  };
}

export type StreamActivities = ReturnType<typeof createActivities>;
