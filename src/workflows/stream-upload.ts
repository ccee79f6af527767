import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { batchChunks, chunkCount, chunkRange, intactFullChunks, nextFullChunks } from '../stream/chunk-plan';
import { FailureType } from '../stream/failures';
import { isNewer, sameSnapshot } from '../stream/file-change';
import { formatBytes } from '../stream/format-bytes';
import { idleWaitMs } from '../stream/idle';
import type { ManifestSummary } from '../stream/manifest';
import type {
  ChunkRange,
  FileObservation,
  FileSnapshot,
  FollowProgress,
  StreamProgress,
  StreamUploadInput,
  StreamUploadState,
} from '../stream/types';
import { fileChangedSignal, progressQuery } from './definitions';
import { cancelledFollowProgress, failureOf } from './failure-of';
import { streamActivities, type StreamActivityProxies } from './stream-activities';
import { StreamCompletion } from './stream-completion';
import { StreamControl } from './stream-control';
import { StreamManifest } from './stream-manifest';

/** Continue as new well before Temporal's 10,240-event warning. */
const DEFAULT_MAX_HISTORY_EVENTS = 8_000;
const DEFAULT_MANIFEST_INTERVAL_MS = 5_000;

/**
 * Streams started by this version follow their growing file in long activities (a few history
 * events per chunk instead of about forty); runs started before it replay on the old loop.
 */
const FOLLOW_FILE_PATCH = 'follow-file';

/**
 * Streams started by this version follow an idle file too (a backlog), so that the follow uploads
 * its chunks and completes it: two activities for a file of up to a batch, where the upload
 * activities and a finalize of four more (each with its workflow task) took a third of a 200 MB
 * file's time on its own.
 */
const FOLLOW_IDLE_FILE_PATCH = 'follow-idle-file';

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

/** The input's optional settings, with their defaults filled in once. */
interface StreamSettings {
  uploadConcurrency: number;
  maxHistoryEvents: number;
}

class StreamUpload {
  /**
   * The one state carried across continue-as-new (in the next run's input): what is uploaded,
   * what is pending for the manifest, the file as last seen, the pause. Every other field below
   * belongs to this run only and starts afresh in the next.
   */
  private readonly state: StreamUploadState;
  private readonly io: StreamActivityProxies['io'];
  private readonly quick: StreamActivityProxies['quick'];
  private readonly settings: StreamSettings;
  private readonly control: StreamControl;
  private readonly manifest: StreamManifest;
  private readonly completion: StreamCompletion;
  /** When a chunk last went up, for the progress the operator sees. */
  private lastActivityAt = new Date().toISOString();
  /** Whether this run follows the file in long activities (see FOLLOW_FILE_PATCH). */
  private follows = false;
  /** Whether it follows an idle file too (see FOLLOW_IDLE_FILE_PATCH). */
  private followsIdle = false;
  /** When the running follow began; its chunks reach this workflow only when it ends. */
  private followingSince?: string;
  /** The mtime at which the last follow ended without the file being idle (on shutdown): the durable timer takes it from there. */
  private settledMtimeMs = -1;

  constructor(private readonly input: StreamUploadInput) {
    this.state = input.state ?? {
      nextIndex: 0,
      pendingChunks: [],
      file: input.file,
      startedAt: new Date().toISOString(),
      paused: false,
      revision: 1,
      rewrittenChunks: 0,
    };
    const { io, quick, manifests, webhook } = streamActivities(input.fileTaskQueue);
    this.io = io;
    this.quick = quick;
    this.settings = {
      uploadConcurrency: input.uploadConcurrency ?? 1,
      maxHistoryEvents: input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS,
    };
    this.control = new StreamControl(this.state, () => this.progressLines(), BLOCKING_FAILURES, this.logMeta());
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
    this.completion = new StreamCompletion(this.state, input.stream, !!input.notifyCompletion, this.control, webhook);
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
      if (isCancellation(err)) {
        this.control.setPhase('cancelled');
        await CancellationScope.nonCancellable(() => this.manifest.record('cancelled', this.state.nextIndex));
        throw err;
      }
      const failure = failureOf(err);
      if (!failure) throw err;
      this.control.setPhase('failed');
      log.error('stream failed; writing what was uploaded', { ...this.logMeta(), ...failure });
      await this.manifest.record('failed', this.state.nextIndex, { error: failure });
      throw ApplicationFailure.nonRetryable(failure.message, failure.type);
    }
  }

  private async upload(): Promise<ManifestSummary> {
    const { state, input } = this;
    this.follows = patched(FOLLOW_FILE_PATCH);
    this.followsIdle = this.follows && patched(FOLLOW_IDLE_FILE_PATCH);
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
      if (!this.followsIdle || remainingIdleMs() > 0) await this.uploadFullChunks();
      if (this.historyIsLong()) {
        await this.manifest.record('recording', state.nextIndex);
        await condition(allHandlersFinished);
        return continueAsNew<typeof StreamUploadWorkflow>({ ...input, state });
      }
      // The idle timer runs from the file's own modification time. Signals of mere growth do not
      // reset it (each reset would cost history events): they only move the file's mtime, which
      // the timer reads when it fires. A pause wakes the stream early, and so does the watcher's
      // signal that the file is quiet (the timer may fire late). A file written since the last
      // follow found it quiet is followed again; runs of the old loop wake on a new full chunk.
      if (this.follows && (this.followsIdle || remainingIdleMs() > 0) && state.file.mtimeMs > this.settledMtimeMs) {
        const completed = await this.follow();
        if (!completed) continue;
        if (sameSnapshot(state.file, completed.file)) return completed.summary;
        this.completion.carryOn(completed.summary);
        continue;
      }
      const waitMs = remainingIdleMs();
      if (waitMs > 0) {
        const seenMtimeMs = state.file.mtimeMs;
        const woken = this.follows ? () => state.file.mtimeMs !== seenMtimeMs : () => this.fullChunks().length > 0;
        await condition(() => state.paused || woken() || remainingIdleMs() === 0, waitMs);
        continue;
      }
      // A change the watcher did not signal (lost, late, or not worth a signal), or one signalled
      // while the stat ran: idle only once the newest change is old enough.
      const observed = await this.observe();
      this.learn(observed);
      if (remainingIdleMs() > 0) continue;
      const summary = await this.finalize(observed);
      if (!summary) continue;
      if (sameSnapshot(state.file, observed)) return summary;
      this.completion.carryOn(summary);
    }
  }

  /** Takes in what a signal or a stat tells of the file, unless it is older than what is known. */
  private learn(snapshot: FileSnapshot): void {
    if (isNewer(this.state.file, snapshot)) this.state.file = snapshot;
  }

  /**
   * Makes the bucket hold the file as it is now, then writes the manifest. Returns null when the
   * file changed meanwhile (or the stream was paused): the stream goes on.
   */
  private async finalize(before: FileSnapshot): Promise<ManifestSummary | null> {
    const { state, chunkSize, stream } = this;
    const verified = await this.control.unblocked(() =>
      this.io.verifyChunks({
        stream,
        chunkCount: state.nextIndex,
        pendingChunks: state.pendingChunks,
        checked: state.checked,
      }),
    );
    state.rewrittenChunks += verified.changed.length;
    state.nextIndex = intactFullChunks(state.nextIndex, chunkSize, verified.fileSize);
    const rewritten = verified.changed
      .filter((changed) => changed < state.nextIndex)
      .map((index) => chunkRange(index, chunkSize, verified.fileSize));
    const batch = batchChunks(chunkSize);
    for (let first = 0; first < rewritten.length; first += batch) {
      if (!(await this.uploadBatch(rewritten.slice(first, first + batch)))) return null;
    }
    this.learn({ ...before, size: verified.fileSize });
    await this.uploadFullChunks();
    // A backlog stopped between batches because the history is long: continue as new first.
    if (this.fullChunks().length > 0) return null;
    const count = chunkCount(chunkSize, verified.fileSize);
    if (state.paused) return null;
    if (
      count > state.nextIndex &&
      !(await this.uploadBatch([chunkRange(state.nextIndex, chunkSize, verified.fileSize)]))
    )
      return null;

    const { observation, durationSeconds } = await this.control.unblocked(() => this.io.inspectFile({ stream }));
    this.learn(snapshotOf(observation, stream.relPath));
    const assembled =
      this.input.assemble && sameSnapshot(state.file, before)
        ? await this.control.unblocked(() =>
            this.io.assembleRecording({ stream, chunkSize, fileSize: verified.fileSize }),
          )
        : undefined;
    // Any change since `before`, seen by the last stat or signalled meanwhile: the stream goes on.
    if (!sameSnapshot(state.file, before)) {
      log.info('file changed while the stream was being finalized: carrying on', this.logMeta());
      return null;
    }
    // The manifest describes the file that was checked, even if a signal arrives meanwhile.
    return this.completion.announce(
      await this.manifest.record('complete', count, { durationSeconds, assembled }, before),
      before,
    );
  }

  /**
   * Follows the growing file on its host: its full chunks go up as they are written, until it is
   * idle (quiet for the idle timeout: the follow completes the stream then if it can, or else the
   * workflow does at once, with no timer to wait for), a batch is up, or the follow's time is up.
   * A pause cancels it. Returns the complete manifest the follow wrote, and the file it describes.
   */
  private async follow(): Promise<{ summary: ManifestSummary; file: FileSnapshot } | null> {
    const { state, chunkSize, input } = this;
    this.followingSince = new Date().toISOString();
    this.control.showDetails();
    const result = await this.control.unlessPaused(() =>
      this.control.unblocked(() =>
        this.io
          .followFile({
            stream: this.stream,
            chunkSize,
            nextIndex: state.nextIndex,
            concurrency: this.settings.uploadConcurrency,
            settleMs: input.idleTimeoutMs,
            liveManifest: this.manifest.input('recording', state.nextIndex),
            manifestIntervalMs: this.manifest.intervalMs,
            checked: state.checked,
            // The whole recording as one object is composed by the workflow's own finalize.
            completeWhenIdle: !input.assemble,
          })
          .catch((err: unknown) => {
            this.keepUploadsOf(cancelledFollowProgress(err));
            throw err;
          }),
      ),
    );
    this.followingSince = undefined;
    if (!result) return null;
    const rewritten = result.rewritten?.length ?? 0;
    state.rewrittenChunks += rewritten;
    if (result.checked) state.checked = result.checked;
    const { completed } = result;
    if (result.records.length > 0 || rewritten > 0 || completed) {
      // The follow wrote them, after the pending ones, into the live manifest (or the complete one).
      state.nextIndex += result.records.length;
      this.manifest.written(completed?.totalSize ?? state.nextIndex * chunkSize);
      this.lastActivityAt = new Date().toISOString();
      this.control.showDetails();
    }
    const observed = snapshotOf(result.observation, this.stream.relPath);
    this.learn(observed);
    if (completed) return { summary: await this.completion.announce(completed, observed), file: observed };
    if (result.end === 'shrank') {
      // The chunks past the new end changed as surely as a rewritten one: they count as such,
      // and the others are checked against the file before the stream completes.
      const intact = intactFullChunks(state.nextIndex, chunkSize, observed.size);
      log.warn('file shrank under uploaded chunks: uploading it again from there', {
        ...this.logMeta(),
        changed: state.nextIndex - intact,
      });
      state.rewrittenChunks += state.nextIndex - intact;
      state.nextIndex = intact;
    }
    // On shutdown, the restarted watcher's signal or the durable timer brings the stream back.
    if (result.end === 'quiet' || result.end === 'stopping') this.settledMtimeMs = observed.mtimeMs;
    return null;
  }

  /**
   * The chunks a cancelled follow had uploaded stay the stream's: a cancelled stream's manifest
   * lists them (they may be in a live one already) instead of deleting them, and a paused one
   * carries on after them.
   */
  private keepUploadsOf(progress: FollowProgress | null): void {
    if (!progress) return;
    const { state } = this;
    state.nextIndex += progress.records.length;
    state.rewrittenChunks += progress.rewritten.length;
    state.pendingChunks.push(...progress.records, ...progress.rewritten);
  }

  private historyIsLong(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > this.settings.maxHistoryEvents;
  }

  /** The full chunks the stream can upload next, a bounded batch of them. */
  private fullChunks(): ChunkRange[] {
    return nextFullChunks(this.state.nextIndex, this.chunkSize, this.state.file.size, batchChunks(this.chunkSize));
  }

  private async uploadFullChunks(): Promise<void> {
    const { state } = this;
    // A long backlog stops between batches when the history is long, to continue as new.
    for (
      let ranges = this.fullChunks();
      ranges.length > 0 && !state.paused && !this.historyIsLong();
      ranges = this.fullChunks()
    ) {
      const count = state.nextIndex + ranges.length;
      if (!(await this.uploadBatch(ranges, this.manifest.isDue(ranges.length) ? count : undefined))) return;
      state.nextIndex = count;
    }
  }

  /**
   * Uploads chunks, and then, given `liveManifestCount`, the live manifest of that many chunks in
   * the same activity. False when the file turned out shorter than a chunk (it was rewritten):
   * the caller re-plans.
   */
  private async uploadBatch(ranges: ChunkRange[], liveManifestCount?: number): Promise<boolean> {
    const { state } = this;
    const liveManifest =
      liveManifestCount === undefined ? undefined : this.manifest.input('recording', liveManifestCount);
    try {
      const records = await this.control.unblocked(() =>
        this.io.uploadChunks({
          stream: this.stream,
          ranges,
          concurrency: this.settings.uploadConcurrency,
          bytesCompleteAtMs: state.file.mtimeMs,
          liveManifest,
        }),
      );
      state.pendingChunks.push(...records);
      if (liveManifestCount !== undefined) this.manifest.written(liveManifestCount * this.chunkSize);
    } catch (err) {
      if (failureOf(err)?.type !== FailureType.FileTruncated) throw err;
      log.warn('file shrank under a chunk being uploaded: re-planning', {
        ...this.logMeta(),
        chunks: ranges.map((range) => range.index),
      });
      this.learn(await this.observe());
      return false;
    }
    this.lastActivityAt = new Date().toISOString();
    this.control.showDetails();
    return true;
  }

  /** Observes the file; throws a failure when it is gone or is another file now. */
  private async observe(): Promise<FileSnapshot> {
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
      ...(this.followingSince
        ? [
            `following the file since ${this.followingSince}: the chunks it uploads are counted here when the follow ends; until then they are in the heartbeat details of its followFile activity (Pending Activities), and in \`npm run cli -- status\``,
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

  private logMeta() {
    return { streamId: this.stream.streamId };
  }
}

/** The file's state; a failure when it is gone or is another file now. */
function snapshotOf(observation: FileObservation, relPath: string): FileSnapshot {
  if (observation.status === 'missing')
    throw ApplicationFailure.nonRetryable(`${relPath} was deleted`, FailureType.FileGone);
  if (observation.status === 'replaced')
    throw ApplicationFailure.nonRetryable(`${relPath} is now another file`, FailureType.FileReplaced);
  return { size: observation.size, mtimeMs: observation.mtimeMs };
}
