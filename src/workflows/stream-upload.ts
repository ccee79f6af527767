import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  setHandler,
} from '@temporalio/workflow';
import { FailureType } from '../stream/failures';
import { isNewer, sameSnapshot } from '../stream/file-change';
import { formatBytes } from '../stream/format-bytes';
import { idleWaitMs } from '../stream/idle';
import type { ManifestSummary } from '../stream/manifest';
import type { FileSnapshot, StreamProgress, StreamUploadInput, StreamUploadState } from '../stream/types';
import { fileChangedSignal, pauseSignal, progressQuery, resumeSignal } from './definitions';
import { endedByCancel, failureOf } from './failure-of';
import { streamActivities, type StreamActivityProxies } from './stream-activities';
import { historyIsLong, StreamChunks } from './stream-chunks';
import { StreamCompletion } from './stream-completion';
import { snapshotOf, type StreamContext, type StreamSettings } from './stream-context';
import { StreamControl } from './stream-control';
import { finalizeStream } from './stream-finalize';
import { StreamFollow } from './stream-follow';
import { streamLogFields } from '../stream/identity';
import { StreamManifest } from './stream-manifest';
import {
  CANCELLED_BY_TIMEOUT_PATCH,
  FAILED_WHILE_CANCELLED_PATCH,
  FOLLOW_FILE_PATCH,
  FOLLOW_IDLE_FILE_PATCH,
} from './patches';

/** Continue as new well before Temporal's 10,240-event warning. */
const DEFAULT_MAX_HISTORY_EVENTS = 8_000;
const DEFAULT_MANIFEST_INTERVAL_MS = 5_000;

/**
 * Failures an operator can fix (permissions, the bucket, credentials, a request S3 refuses, such as a
 * wrong region, an S3_PREFIX changed under a running stream): the stream waits for `resume`.
 */
const BLOCKING_FAILURES: readonly string[] = [
  FailureType.PermissionDenied,
  FailureType.BucketMissing,
  FailureType.AccessDenied,
  FailureType.S3Rejected,
  FailureType.InvalidStream,
];

/**
 * One stream: uploads the file's full chunks in order while it grows, and when it has been idle
 * for the idle timeout, checks the uploaded chunks against the file, uploads the tail, and writes
 * the manifest. Its state survives crashes in Temporal's history; long streams continue as new.
 */
export async function StreamUploadWorkflow(input: StreamUploadInput): Promise<ManifestSummary> {
  return new StreamUpload(input).run();
}

/**
 * Runs a stream's phases. Its parts (the chunk batches, the follows, the finalize, the manifest,
 * the completion, the operator's control) each live in a module of their own, and the parts that
 * need the whole stream get it as their `StreamContext`.
 */
class StreamUpload implements StreamContext {
  /**
   * The one state carried across continue-as-new (in the next run's input): what is uploaded,
   * what is pending for the manifest, the file as last seen, the pause. Every other field below
   * belongs to this run only and starts afresh in the next.
   */
  readonly state: StreamUploadState;
  readonly transfers: StreamActivityProxies['transfers'];
  private readonly quick: StreamActivityProxies['quick'];
  readonly settings: StreamSettings;
  readonly control: StreamControl;
  readonly manifest: StreamManifest;
  readonly completion: StreamCompletion;
  private readonly chunks: StreamChunks;
  private readonly follows: StreamFollow;
  /** When a chunk last went up, for the progress the operator sees. */
  private lastActivityAt = new Date().toISOString();
  /** Whether this run follows the file in long activities (see FOLLOW_FILE_PATCH). */
  private followsFile = false;
  /** Whether it follows an idle file too (see FOLLOW_IDLE_FILE_PATCH). */
  private followsIdle = false;
  /**
   * Whether the stream's revision is known (from openStream, or carried): a cancel or a failure
   * before then must not write a manifest over the one in the bucket.
   */
  private streamOpened: boolean;

  constructor(readonly input: StreamUploadInput) {
    this.streamOpened = !!input.state;
    this.state = input.state ?? {
      nextIndex: 0,
      pendingChunks: [],
      file: input.file,
      startedAt: new Date().toISOString(),
      paused: false,
      revision: 1,
      rewrittenChunks: 0,
    };
    const { transfers, quick, manifests, webhook, cleanup } = streamActivities(input.fileTaskQueue);
    this.transfers = transfers;
    this.quick = quick;
    this.settings = {
      uploadConcurrency: input.uploadConcurrency ?? 1,
      maxHistoryEvents: input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS,
    };
    this.control = new StreamControl(
      this.state,
      () => this.progressLines(),
      BLOCKING_FAILURES,
      streamLogFields(this.stream),
    );
    this.manifest = new StreamManifest(
      this.state,
      {
        stream: input.stream,
        chunkSize: input.chunkSize,
        idleTimeoutMs: input.idleTimeoutMs,
        intervalMs: input.manifestIntervalMs ?? DEFAULT_MANIFEST_INTERVAL_MS,
      },
      this.control,
      manifests,
    );
    this.completion = new StreamCompletion(
      this.state,
      input.stream,
      !!input.notifyCompletion,
      !!input.deleteAfterUpload,
      this.control,
      { ...webhook, ...cleanup },
    );
    this.chunks = new StreamChunks(this);
    this.follows = new StreamFollow(this);
    // Every handler of the workflow. Signals that came before a handler was set reach it when it is
    // set, so pause and resume stay first, as in the runs recorded before.
    setHandler(pauseSignal, () => this.control.pause());
    setHandler(resumeSignal, () => this.control.resume());
    setHandler(fileChangedSignal, (snapshot) => this.learn(snapshot));
    setHandler(progressQuery, () => this.progress());
  }

  private get stream() {
    return this.input.stream;
  }

  private get chunkSize() {
    return this.input.chunkSize;
  }

  async run(): Promise<ManifestSummary> {
    try {
      return await this.upload();
    } catch (err) {
      const cancelled =
        isCancellation(err) ||
        (CancellationScope.current().consideredCancelled && endedByCancel(err) && patched(CANCELLED_BY_TIMEOUT_PATCH));
      if (cancelled) {
        this.control.setPhase('cancelled');
        await CancellationScope.nonCancellable(() =>
          this.manifest.record('cancelled', this.state.nextIndex, { unopened: !this.streamOpened }),
        );
        throw isCancellation(err) ? err : new CancelledFailure('stream cancelled', [], err as Error);
      }
      const failure = failureOf(err);
      if (!failure) throw err;
      this.control.setPhase('failed');
      log.error('stream failed; writing what was uploaded', { ...streamLogFields(this.stream), ...failure });
      const writeFailed = () =>
        this.manifest.record('failed', this.state.nextIndex, { error: failure, unopened: !this.streamOpened });
      // A stream asked to cancel can still fail first (its follow ended as the file went away):
      // its manifest must be written all the same, where the cancel would stop the activity.
      if (CancellationScope.current().consideredCancelled && patched(FAILED_WHILE_CANCELLED_PATCH))
        await CancellationScope.nonCancellable(writeFailed);
      else await writeFailed();
      throw ApplicationFailure.nonRetryable(failure.message, failure.type);
    }
  }

  private async upload(): Promise<ManifestSummary> {
    const { state, input } = this;
    this.followsFile = patched(FOLLOW_FILE_PATCH);
    this.followsIdle = this.followsFile && patched(FOLLOW_IDLE_FILE_PATCH);
    if (!input.state) {
      const opened = await this.control.unblocked(() =>
        this.quick.openStream({
          stream: this.stream,
          file: state.file,
          chunkSize: this.chunkSize,
          reverifyBucket: !!input.reverifyBucket,
        }),
      );
      if (opened.completed) return opened.completed;
      this.streamOpened = true;
      state.nextIndex = opened.reusableChunks;
      state.revision = opened.revision;
      state.previousRevision = opened.previousRevision;
    }
    this.control.showDetails();
    for (;;) {
      await this.control.whilePaused();
      const remainingIdleMs = () => idleWaitMs(state.file.mtimeMs, Date.now(), input.idleTimeoutMs);
      // What a live file already has on disk goes up first, its progress visible at once; an idle
      // file is left to the follow, which can complete it too.
      if (!this.followsIdle || remainingIdleMs() > 0) await this.chunks.uploadFull();
      if (historyIsLong(this.settings.maxHistoryEvents)) {
        await this.manifest.record('recording', state.nextIndex);
        await condition(allHandlersFinished);
        return continueAsNew<typeof StreamUploadWorkflow>({ ...input, state });
      }
      // The idle timer runs from the file's own modification time. Signals of mere growth do not
      // reset it (each reset would cost history events): they only move the file's mtime, which
      // the timer reads when it fires. A pause wakes the stream early, and so does the watcher's
      // signal that the file is quiet (the timer may fire late). A file written since the last
      // follow found it quiet is followed again; runs of the old loop wake on a new full chunk.
      if (
        this.followsFile &&
        (this.followsIdle || remainingIdleMs() > 0) &&
        state.file.mtimeMs > this.follows.endedAtMtimeMs
      ) {
        const completed = await this.follows.run();
        if (!completed) continue;
        if (sameSnapshot(state.file, completed.file)) return completed.summary;
        this.completion.carryOn(completed.summary);
        continue;
      }
      const waitMs = remainingIdleMs();
      if (waitMs > 0) {
        const seenMtimeMs = state.file.mtimeMs;
        const woken = this.followsFile ? () => state.file.mtimeMs !== seenMtimeMs : () => this.chunks.next().length > 0;
        await condition(() => state.paused || woken() || remainingIdleMs() === 0, waitMs);
        continue;
      }
      // A change the watcher did not signal (lost, late, or not worth a signal), or one signalled
      // while the stat ran: idle only once the newest change is old enough.
      const observed = await this.observe();
      this.learn(observed);
      if (remainingIdleMs() > 0) continue;
      const summary = await finalizeStream(this, this.chunks, observed);
      if (!summary) continue;
      if (sameSnapshot(state.file, observed)) return summary;
      this.completion.carryOn(summary);
    }
  }

  learn(snapshot: FileSnapshot): void {
    if (isNewer(this.state.file, snapshot)) this.state.file = snapshot;
  }

  async observe(): Promise<FileSnapshot> {
    return snapshotOf(
      await this.control.unblocked(() => this.quick.observeStreamFile({ stream: this.stream })),
      this.stream.relPath,
    );
  }

  /** What the Web UI's details show under the stream's phase. */
  private progressLines(): string[] {
    const { state, chunkSize } = this;
    return [
      `${state.nextIndex} chunks (${formatBytes(state.nextIndex * chunkSize)}) of ${formatBytes(state.file.size)} uploaded`,
      `last activity ${this.lastActivityAt}`,
      ...(this.follows.since
        ? [
            `following the file since ${this.follows.since}: the chunks it uploads are counted here when the follow ends; until then they are in the heartbeat details of its followFile activity (Pending Activities), and in \`npm run cli -- status\``,
          ]
        : []),
      ...(this.completion.webhookFailure
        ? [`completion webhook not delivered: ${this.completion.webhookFailure}`]
        : []),
    ];
  }

  private progress(): StreamProgress {
    const { state, chunkSize } = this;
    return {
      streamId: this.stream.streamId,
      relPath: this.stream.relPath,
      status: this.control.phase,
      ...(this.control.blockedBy ? { blockedBy: this.control.blockedBy } : {}),
      fileSize: state.file.size,
      uploadedBytes: state.nextIndex * chunkSize,
      chunksUploaded: state.nextIndex,
      lastActivityAt: this.lastActivityAt,
    };
  }

  progressed(): void {
    this.lastActivityAt = new Date().toISOString();
    this.control.showDetails();
  }
}
