import type { S3Client } from '@aws-sdk/client-s3';
import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { StreamMetrics } from '../metrics';
import {
  isCompleteFor,
  nextRevision,
  reusableChunks,
  summarize,
  type AssembledObject,
  type ManifestSummary,
} from '../stream/manifest';
import { settledMtime } from '../stream/settled-chunks';
import type {
  ChunkRange,
  ChunkRecord,
  ChunksChecked,
  FileInspection,
  FileObservation,
  FollowFileInput,
  FollowProgress,
  OpenStreamInput,
  OpenStreamResult,
  StreamRef,
  UploadChunksActivityInput,
  UploadChunksInput,
  VerifyChunksInput,
  WriteManifestInput,
} from '../stream/types';
import { classifiedActivities } from './classified';
import { withHeartbeat } from './heartbeat';
import { deleteChunksFrom, loadChunkRecords, readChunkRecords, readManifest, saveManifest } from './manifest-store';
import { readMediaDurationSeconds } from './media-duration';
import { observeFile, openStreamFile, resolveInWatchDir } from './stream-file';
import { sendChunks } from './upload-chunk';
import type { UploadSlots } from './upload-slots';
import type { ChunkBuffers } from './chunk-buffers';
import { findChangedChunks, type VerifyResult } from './verify-chunks';
import { postManifest } from './completion-webhook';
import { composeRecording, type AssembleInput } from './assemble-recording';
import { runFollow, type FollowCheck, type FollowFileResult } from './follow-file';
import type { FollowedStreams } from '../followed-streams';
import { chunkRange } from '../stream/chunk-plan';
import { FOLLOW_POLL_MS, followBatchChunks, MAX_FOLLOW_MS } from '../stream/follow-plan';
import { FailureType } from '../stream/failures';
import { streamNamesProblem } from '../stream/identity';
import { failure } from './failures';

export interface ActivityDeps {
  s3: S3Client;
  bucket: string;
  watchDir: string;
  metrics: StreamMetrics;
  /** Shared by every stream of the process: at most this many chunk uploads at once. */
  slots: UploadSlots;
  /** Shared by every stream of the process: one reusable buffer per chunk upload in flight. */
  buffers: ChunkBuffers;
  /** Shared with the watcher, which does not signal the growth of a followed file. */
  followed: FollowedStreams;
  completionWebhookUrl?: string;
  /** S3_PREFIX: the stream names in activity inputs must be the ones it gives. */
  s3Prefix: string;
}

/**
 * The stream activities, bound to their dependencies (as Temporal's samples do it). Every error
 * goes through `classify` (see `classifiedActivities`), which marks the ones retrying cannot heal
 * as non-retryable.
 */
export function createActivities(deps: ActivityDeps) {
  const { metrics } = deps;
  const store = { s3: deps.s3, bucket: deps.bucket };
  const meta = (stream: StreamRef) => ({ streamId: stream.streamId });
  const classified = classifiedActivities(metrics);
  /**
   * An activity of a stream: its stream's names checked first (see `streamNamesProblem`), its
   * errors classified and counted (see `classifiedActivities`).
   */
  const streamActivity = <I extends { stream: StreamRef }, O>(activity: (input: I) => Promise<O>) =>
    classified(async (input: I): Promise<O> => {
      const problem = streamNamesProblem(input.stream, deps.s3Prefix);
      if (problem) throw failure(FailureType.InvalidStream, problem);
      return activity(input);
    });

  /** Writes the manifest: the stored records of chunks [0, chunkCount), overlaid by the pending ones. */
  async function storeManifest({
    chunkCount,
    pendingChunks,
    idleTimeoutMs,
    ...fields
  }: WriteManifestInput): Promise<ManifestSummary> {
    if (fields.status !== 'recording') {
      const removed = await deleteChunksFrom(store, fields.stream.prefix, chunkCount);
      if (removed > 0) log.info('removed chunks past the end of the shrunk file', { ...meta(fields.stream), removed });
    }
    const { manifest, bytesWritten } = await saveManifest(store, fields, pendingChunks, chunkCount);
    metrics.manifestBytes.inc(bytesWritten);
    if (manifest.status !== 'recording') metrics.streamsFinished.inc({ status: manifest.status });
    if (manifest.status === 'complete') {
      metrics.finalizeLatency.observe(Math.max(0, Date.now() - fields.file.mtimeMs - idleTimeoutMs) / 1000);
    }
    log.info('manifest written', {
      ...meta(fields.stream),
      status: manifest.status,
      chunks: manifest.chunkCount,
      bytes: manifest.totalSize,
      manifestBytes: bytesWritten,
    });
    return summarize(manifest, fields.stream.prefix);
  }

  /** Uploads chunks with the process's metrics and logs; `bytesCompleteAtMs` is when they were on disk. */
  function uploadRanges(
    input: UploadChunksInput,
    bytesCompleteAtMs: number,
    signal: AbortSignal,
    onChunk?: () => void,
  ): Promise<ChunkRecord[]> {
    return sendChunks(deps, input, signal, ({ record, sent, seconds }) => {
      onChunk?.();
      if (sent) {
        metrics.chunkUploadDuration.observe(seconds);
        metrics.chunksUploaded.inc();
        metrics.bytesUploaded.inc(record.size);
        metrics.chunkLag.observe(Math.max(0, Date.now() - bytesCompleteAtMs) / 1000);
      }
      log.info(sent ? 'chunk uploaded' : 'chunk already in the bucket', {
        ...meta(input.stream),
        chunk: record.index,
        bytes: record.size,
      });
    });
  }

  /** The recording's media duration; says so when it has none. */
  async function mediaDuration(stream: StreamRef): Promise<number | null> {
    const durationSeconds = await readMediaDurationSeconds(resolveInWatchDir(deps.watchDir, stream.relPath));
    if (durationSeconds === null) log.warn('no media duration could be read: not a complete MP4', meta(stream));
    return durationSeconds;
  }

  /** Compares chunks [0, chunkCount) with the file (see `findChangedChunks`); says so when some changed. */
  async function checkChunks(
    stream: StreamRef,
    chunkCount: number,
    pendingChunks: ChunkRecord[],
    checked?: ChunksChecked,
    onChunk?: (index: number) => void,
  ): Promise<VerifyResult> {
    const chunks = await loadChunkRecords(store, stream.prefix, pendingChunks, 0, chunkCount);
    const { handle, snapshot } = await openStreamFile(deps.watchDir, stream.relPath, stream.identity);
    let result: VerifyResult;
    try {
      result = await findChangedChunks(handle, snapshot, chunks, checked, onChunk);
    } finally {
      await handle.close();
    }
    metrics.chunksReread.inc(result.read);
    if (result.changed.length > 0) {
      log.warn('file changed after upload: re-uploading the chunks it rewrote', {
        ...meta(stream),
        changed: result.changed.length,
        fileSize: result.fileSize,
      });
    }
    return result;
  }

  /**
   * A follow's check of the quiet file: compares chunks [0, count) with it, uploads again those the
   * recorder rewrote, and settles them all under the file's mtime if that mtime had settled.
   */
  async function checkQuietFile(
    stream: StreamRef,
    chunkSize: number,
    count: number,
    pendingChunks: ChunkRecord[],
    checked: ChunksChecked | undefined,
    upload: (ranges: ChunkRange[], bytesCompleteAtMs: number) => Promise<ChunkRecord[]>,
  ): Promise<FollowCheck> {
    const startedAt = Date.now();
    const { changed, fileSize, mtimeMs } = await checkChunks(stream, count, pendingChunks, checked);
    const ranges = changed.map((index) => chunkRange(index, chunkSize, fileSize));
    // The file shrank under a chunk: the follow's next look ends it, and the workflow decides.
    if (ranges.some((range) => range.size < chunkSize)) return { rewritten: [], mtimeMs };
    const rewritten = ranges.length > 0 ? await upload(ranges, mtimeMs) : [];
    const settled = settledMtime(mtimeMs, startedAt);
    return { rewritten, mtimeMs, ...(settled === undefined ? {} : { checked: { count, mtimeMs: settled } }) };
  }

  /**
   * A follow's completion of the idle file: when its chunks were all settled under its mtime by
   * the quiet check, uploads the tail, reads the duration and, if the file is still as it was,
   * writes the complete manifest. Null when anything is left to decide (not checked under this
   * mtime, a change meanwhile; a file cut short under the tail throws, and the follow ends as
   * it would have): the workflow then finalizes the stream itself.
   */
  async function completeIdleFile(
    input: FollowFileInput,
    { records, rewritten }: FollowProgress,
    observation: FileObservation,
    checked: ChunksChecked | undefined,
    upload: (ranges: ChunkRange[], bytesCompleteAtMs: number) => Promise<ChunkRecord[]>,
  ): Promise<ManifestSummary | null> {
    const { stream, chunkSize, liveManifest } = input;
    const count = input.nextIndex + records.length;
    if (!input.completeWhenIdle || observation.status !== 'present') return null;
    // With no full chunk there is nothing the recorder could have rewritten under an upload.
    if (count > 0 && (checked?.count !== count || checked.mtimeMs !== observation.mtimeMs)) return null;
    const file = { size: observation.size, mtimeMs: observation.mtimeMs };
    const tail =
      file.size > count * chunkSize ? await upload([chunkRange(count, chunkSize, file.size)], file.mtimeMs) : [];
    const durationSeconds = await mediaDuration(stream);
    const after = await observeFile(deps.watchDir, stream.relPath, stream.identity);
    if (after.status !== 'present' || after.size !== file.size || after.mtimeMs !== file.mtimeMs) return null;
    return storeManifest({
      ...liveManifest,
      status: 'complete',
      file,
      completedAt: new Date().toISOString(),
      durationSeconds,
      rewrittenChunks: liveManifest.rewrittenChunks + rewritten.length,
      chunkCount: count + tail.length,
      pendingChunks: [...liveManifest.pendingChunks, ...records, ...rewritten, ...tail],
    });
  }

  return {
    openStream: streamActivity(
      async ({ stream, file, chunkSize, reverifyBucket }: OpenStreamInput): Promise<OpenStreamResult> => {
        const stored = await readManifest(store, stream.prefix);
        const revision = nextRevision(stored?.manifest ?? null);
        if (!stored) return { completed: null, reusableChunks: 0, ...revision };
        const { manifest } = stored;
        if (!reverifyBucket && isCompleteFor(manifest, file)) {
          log.info('stream already uploaded and unchanged', meta(stream));
          return { completed: summarize(manifest, stream.prefix), reusableChunks: 0, ...revision };
        }
        // `reupload` trusts no earlier record: every chunk is checked against the bucket again.
        const reusable = reverifyBucket
          ? 0
          : reusableChunks(await readChunkRecords(store, stream.prefix, stored, 0, manifest.chunkCount), chunkSize)
              .length;
        log.info('resuming stream from its stored manifest', {
          ...meta(stream),
          reusableChunks: reusable,
          storedStatus: manifest.status,
          revision: revision.revision,
        });
        return { completed: null, reusableChunks: reusable, ...revision };
      },
    ),

    observeStreamFile: streamActivity(async ({ stream }: { stream: StreamRef }): Promise<FileObservation> => {
      return observeFile(deps.watchDir, stream.relPath, stream.identity);
    }),

    uploadChunks: streamActivity(
      async ({ bytesCompleteAtMs, liveManifest, ...input }: UploadChunksActivityInput): Promise<ChunkRecord[]> => {
        let uploaded = 0;
        const records = await withHeartbeat(
          (signal) => uploadRanges(input, bytesCompleteAtMs, signal, () => uploaded++),
          () => ({ uploaded }),
        );
        if (liveManifest)
          await storeManifest({ ...liveManifest, pendingChunks: [...liveManifest.pendingChunks, ...records] });
        return records;
      },
    ),

    followFile: streamActivity(async (input: FollowFileInput): Promise<FollowFileResult> => {
      const { stream, chunkSize, nextIndex, concurrency, settleMs, liveManifest, manifestIntervalMs, checked } = input;
      const release = deps.followed.follow(stream.streamId);
      let next = nextIndex;
      try {
        return await withHeartbeat(
          (signal) => {
            const uploadFollowed = (ranges: ChunkRange[], bytesCompleteAtMs: number) =>
              uploadRanges({ stream, ranges, concurrency }, bytesCompleteAtMs, signal);
            return runFollow(
              {
                observe: () => observeFile(deps.watchDir, stream.relPath, stream.identity),
                upload: uploadFollowed,
                check: ({ records, rewritten }, settled) =>
                  checkQuietFile(
                    stream,
                    chunkSize,
                    nextIndex + records.length,
                    [...liveManifest.pendingChunks, ...records, ...rewritten],
                    settled,
                    uploadFollowed,
                  ),
                complete: (progress, observation, settled) =>
                  completeIdleFile(input, progress, observation, settled, uploadFollowed),
                saveLiveManifest: async ({ records, rewritten }, observation) => {
                  const file =
                    observation.status === 'present'
                      ? { size: observation.size, mtimeMs: observation.mtimeMs }
                      : liveManifest.file;
                  await storeManifest({
                    ...liveManifest,
                    file,
                    rewrittenChunks: liveManifest.rewrittenChunks + rewritten.length,
                    chunkCount: nextIndex + records.length,
                    pendingChunks: [...liveManifest.pendingChunks, ...records, ...rewritten],
                  });
                },
              },
              {
                firstIndex: nextIndex,
                chunkSize,
                settleMs,
                maxChunks: followBatchChunks(chunkSize),
                maxMs: MAX_FOLLOW_MS,
                pollMs: FOLLOW_POLL_MS,
                manifestIntervalMs,
                checked,
                signal,
                stopSignal: deps.followed.stopSignal,
              },
              (index) => (next = index),
            );
          },
          () => ({ nextIndex: next, uploadedBytes: next * chunkSize }),
        );
      } finally {
        release();
      }
    }),

    verifyChunks: streamActivity(
      async ({ stream, chunkCount, pendingChunks, checked }: VerifyChunksInput): Promise<VerifyResult> => {
        let checking = 0;
        return withHeartbeat(
          () => checkChunks(stream, chunkCount, pendingChunks, checked, (index) => (checking = index)),
          () => ({ checking }),
        );
      },
    ),

    /**
     * The last look at the file before its stream is declared complete: its state (the stream
     * goes on if it changed meanwhile) and its media duration, in one round trip.
     */
    inspectFile: streamActivity(async ({ stream }: { stream: StreamRef }): Promise<FileInspection> => {
      const observation = await observeFile(deps.watchDir, stream.relPath, stream.identity);
      if (observation.status !== 'present') return { observation, durationSeconds: null };
      // A long fragmented recording has thousands of fragments to read: heartbeat meanwhile.
      return { observation, durationSeconds: await withHeartbeat(() => mediaDuration(stream)) };
    }),

    writeManifest: streamActivity(storeManifest),

    assembleRecording: streamActivity(async (input: AssembleInput): Promise<AssembledObject> => {
      let parts = 0;
      const assembled = await withHeartbeat(
        (signal) => composeRecording(deps, input, () => parts++, signal),
        () => ({ parts }),
      );
      log.info('recording assembled', {
        ...meta(input.stream),
        key: assembled.key,
        copiedParts: assembled.copiedParts,
        uploadedParts: assembled.uploadedParts,
      });
      return assembled;
    }),

    notifyCompletion: streamActivity(async ({ stream }: { stream: StreamRef }): Promise<void> => {
      if (!deps.completionWebhookUrl) {
        log.warn('no COMPLETION_WEBHOOK_URL on this worker: completion not notified', meta(stream));
        return;
      }
      const stored = await readManifest(store, stream.prefix);
      if (!stored) throw new Error(`no manifest for ${stream.streamId} to notify`);
      try {
        const status = await postManifest(
          deps.completionWebhookUrl,
          stored.manifest,
          Context.current().cancellationSignal,
        );
        metrics.completionWebhook.inc({ outcome: 'delivered' });
        log.info('completion webhook notified', { ...meta(stream), httpStatus: status });
      } catch (err) {
        metrics.completionWebhook.inc({ outcome: err instanceof ApplicationFailure ? 'rejected' : 'failed' });
        throw err;
      }
    }),
  };
}

export type StreamActivities = ReturnType<typeof createActivities>;
