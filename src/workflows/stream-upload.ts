import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  allHandlersFinished,
  workflowInfo,
} from '@temporalio/workflow';
import type { StreamActivities } from '../activities';
import { chunkCount, chunkRange, intactFullChunks, nextChunk } from '../stream/chunk-plan';
import { FailureType, NON_RETRYABLE_FAILURES } from '../stream/failures';
import { isNewer, sameSnapshot } from '../stream/file-change';
import { idleWaitMs } from '../stream/idle';
import type { ManifestSummary } from '../stream/manifest';
import type { ChunkRange, FileSnapshot, StreamFailure, StreamStatus, StreamUploadInput, StreamUploadState } from '../stream/types';
import { fileChangedSignal, progressQuery } from './definitions';

const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURES],
};

/** Activities that move or hash chunk bytes: long, heartbeating, cancellable. */
const io = proxyActivities<StreamActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  // Wait for a cancelled upload to stop, so the manifest can say exactly what reached the bucket.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry,
});

const quick = proxyActivities<StreamActivities>({ startToCloseTimeout: '2 minutes', retry });

/** Upload records carried in workflow state before they are written out to metadata.json. */
const MAX_PENDING_RECORDS = 200;
/** Continue as new well before Temporal's 10,240-event warning. */
const DEFAULT_MAX_HISTORY_EVENTS = 8_000;

/**
 * One stream: uploads the file's full chunks in order while it grows, and when it has been idle
 * for the idle timeout, checks the uploaded chunks against the file, uploads the tail, and writes
 * the manifest. Its state survives crashes in Temporal's history; long streams continue as new.
 */
export async function StreamUploadWorkflow(input: StreamUploadInput): Promise<ManifestSummary> {
  const { stream, chunkSize, idleTimeoutMs } = input;
  const state: StreamUploadState = input.state ?? {
    nextIndex: 0,
    pendingChunks: [],
    file: input.file,
    startedAt: new Date().toISOString(),
  };
  let status: StreamStatus = 'recording';
  let changes = 0;
  let lastActivityAt = new Date().toISOString();

  setHandler(fileChangedSignal, (snapshot) => {
    if (isNewer(state.file, snapshot)) {
      state.file = snapshot;
      changes++;
    }
  });
  setHandler(progressQuery, () => ({
    streamId: stream.streamId,
    status,
    fileSize: state.file.size,
    uploadedBytes: state.nextIndex * chunkSize,
    chunksUploaded: state.nextIndex,
    lastActivityAt,
  }));

  const logMeta = { streamId: stream.streamId };

  /** Uploads one chunk; false when the file turned out shorter than the chunk (it was rewritten). */
  async function upload(range: ChunkRange): Promise<boolean> {
    try {
      state.pendingChunks.push(await io.uploadChunk({ stream, range, bytesCompleteAtMs: state.file.mtimeMs }));
    } catch (err) {
      if (failureOf(err)?.type !== FailureType.FileTruncated) throw err;
      log.warn('file shrank under a chunk being uploaded: re-planning', { ...logMeta, chunk: range.index });
      state.file = await observe();
      return false;
    }
    lastActivityAt = new Date().toISOString();
    return true;
  }

  async function uploadFullChunks(): Promise<void> {
    for (let range = nextChunk(state.nextIndex, chunkSize, state.file.size, false); range; range = nextChunk(state.nextIndex, chunkSize, state.file.size, false)) {
      if (!(await upload(range))) return;
      state.nextIndex++;
      if (state.pendingChunks.length >= MAX_PENDING_RECORDS) await writeManifest('recording', state.nextIndex, null);
    }
  }

  async function writeManifest(manifestStatus: StreamStatus, count: number, durationSeconds: number | null, error?: StreamFailure) {
    const summary = await io.writeManifest({
      stream,
      status: manifestStatus,
      file: state.file,
      chunkSize,
      chunkCount: count,
      pendingChunks: state.pendingChunks,
      startedAt: state.startedAt,
      completedAt: manifestStatus === 'recording' ? null : new Date().toISOString(),
      durationSeconds,
      error,
      idleTimeoutMs,
    });
    state.pendingChunks = [];
    return summary;
  }

  /** Observes the file; throws a failure when it is gone or is another file now. */
  async function observe(): Promise<FileSnapshot> {
    const observation = await quick.observeStreamFile({ stream });
    if (observation.status === 'missing') throw ApplicationFailure.nonRetryable(`${stream.relPath} was deleted`, FailureType.FileGone);
    if (observation.status === 'replaced') throw ApplicationFailure.nonRetryable(`${stream.relPath} is now another file`, FailureType.FileReplaced);
    return { size: observation.size, mtimeMs: observation.mtimeMs };
  }

  /**
   * Makes the bucket hold the file as it is now, then writes the manifest. Returns null when the
   * file changed meanwhile: the stream goes on.
   */
  async function finalize(before: FileSnapshot): Promise<ManifestSummary | null> {
    const verified = await io.verifyChunks({ stream, chunkCount: state.nextIndex, pendingChunks: state.pendingChunks });
    state.nextIndex = intactFullChunks(state.nextIndex, chunkSize, verified.fileSize);
    for (const index of verified.changed.filter((changed) => changed < state.nextIndex)) {
      if (!(await upload(chunkRange(index, chunkSize, verified.fileSize)))) return null;
    }
    state.file = { ...before, size: verified.fileSize };
    await uploadFullChunks();
    const count = chunkCount(chunkSize, verified.fileSize);
    if (count > state.nextIndex && !(await upload(chunkRange(state.nextIndex, chunkSize, verified.fileSize)))) return null;

    const after = await observe();
    if (!sameSnapshot(after, before) || after.size !== verified.fileSize) {
      log.info('file changed while the stream was being finalized: carrying on', logMeta);
      state.file = after;
      return null;
    }
    const durationSeconds = await quick.readMediaDuration({ stream });
    status = 'complete';
    return writeManifest('complete', count, durationSeconds);
  }

  async function run(): Promise<ManifestSummary> {
    if (!input.state) {
      const opened = await quick.openStream({ stream, file: state.file, chunkSize });
      if (opened.completed) return opened.completed;
      state.nextIndex = opened.reusableChunks;
    }
    let waitMs = idleTimeoutMs;
    for (;;) {
      await uploadFullChunks();
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > (input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS)) {
        await writeManifest('recording', state.nextIndex, null);
        await condition(allHandlersFinished);
        return continueAsNew<typeof StreamUploadWorkflow>({ ...input, state });
      }
      const seen = changes;
      if (await condition(() => changes !== seen, waitMs)) {
        waitMs = idleTimeoutMs;
        continue;
      }
      const observed = await observe();
      if (!sameSnapshot(observed, state.file)) {
        // A change the watcher did not signal (lost or late events): idle only once it is old enough.
        state.file = observed;
        waitMs = idleWaitMs(observed.mtimeMs, Date.now(), idleTimeoutMs);
        if (waitMs > 0) continue;
      }
      const summary = await finalize(observed);
      if (summary) return summary;
      waitMs = idleTimeoutMs;
    }
  }

  try {
    return await run();
  } catch (err) {
    if (isCancellation(err)) {
      status = 'cancelled';
      await CancellationScope.nonCancellable(() => writeManifest('cancelled', state.nextIndex, null));
      throw err;
    }
    const failure = failureOf(err);
    if (failure) {
      status = 'failed';
      log.error('stream failed; writing what was uploaded', { ...logMeta, ...failure });
      await writeManifest('failed', state.nextIndex, null, failure);
      throw ApplicationFailure.nonRetryable(failure.message, failure.type);
    }
    throw err;
  }
}

/** The non-retryable failure behind an error, whether raised here or by an activity. */
function failureOf(err: unknown): StreamFailure | null {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type && (NON_RETRYABLE_FAILURES as readonly string[]).includes(cause.type)) {
    return { type: cause.type, message: cause.message };
  }
  return null;
}
