import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { FailureType } from '../stream/failures';
import { nextFollowStep, type FollowEnd, type FollowLimits } from '../stream/follow-plan';
import type { ManifestSummary } from '../stream/manifest';
import type { ChunkRange, ChunkRecord, ChunksChecked, FileObservation, FollowProgress } from '../stream/types';

export interface FollowFileResult {
  /** The chunks uploaded, in order from the follow's first index; all are in metadata.json. */
  records: ChunkRecord[];
  /**
   * Chunks the recorder rewrote after their upload, found by a check and uploaded again; in
   * metadata.json after `records`. Absent from results recorded before follows checked.
   */
  rewritten?: ChunkRecord[];
  /** The last check that settled every chunk of the stream (see `isSettled`). */
  checked?: ChunksChecked;
  /** The last look at the file. */
  observation: FileObservation;
  end: FollowEnd;
  /**
   * Set when the follow completed the stream as the file went idle (see `FollowIo.complete`): the
   * complete manifest of the file as `observation` has it.
   */
  completed?: ManifestSummary;
}

export interface FollowIo {
  observe(): Promise<FileObservation>;
  /** Uploads the ranges; `bytesCompleteAtMs` is when their bytes were seen on disk. */
  upload(ranges: ChunkRange[], bytesCompleteAtMs: number): Promise<ChunkRecord[]>;
  /**
   * Compares the stream's chunks (the follow's records laid over the earlier ones) with the file,
   * skipping those settled under its mtime, and uploads again those it rewrote.
   */
  check(progress: FollowProgress, checked: ChunksChecked | undefined): Promise<FollowCheck>;
  /** Rewrites the live manifest with every record so far. */
  saveLiveManifest(progress: FollowProgress, observation: FileObservation): Promise<void>;
  /**
   * The file is idle: completes the stream (uploads the tail, writes the complete manifest) when
   * nothing is left to decide, that is when the chunks were checked under the file's mtime and the
   * file stays as it is; null otherwise, and the workflow finalizes the stream itself.
   */
  complete(
    progress: FollowProgress,
    observation: FileObservation,
    checked: ChunksChecked | undefined,
  ): Promise<ManifestSummary | null>;
}

export interface FollowCheck {
  rewritten: ChunkRecord[];
  /** The file's mtime when the check began. */
  mtimeMs: number;
  /** Set when that mtime was settled: every chunk then held the file's bytes. */
  checked?: ChunksChecked;
}

export interface FollowOptions extends FollowLimits {
  firstIndex: number;
  /** What the stream's last check settled. */
  checked?: ChunksChecked;
  manifestIntervalMs: number;
  /** Aborted on cancellation: the follow throws a `CancelledFailure` whose details are its `FollowProgress`. */
  signal: AbortSignal;
  /** Aborted when the process shuts down: the follow ends with what it has. */
  stopSignal: AbortSignal;
}

/** A follow judges the file's growth rate once it has watched it this long. */
const GROWTH_AFTER_MS = 1_000;

/**
 * Follows a growing file on this host like `tail -f`: each full chunk goes up as soon as it is on
 * disk, the live manifest is rewritten as they go, the chunks are checked against the file while
 * it is quiet (so that completing the stream need not read them again), and the follow ends when
 * the file goes idle (completing the stream if it can), after a bounded batch or time, or when the
 * file shrinks or disappears. One activity thus carries many chunks of a live recording, where a
 * round trip per chunk cost the stream's history about forty events each (46 measured in
 * bench/results/before.md).
 */
export async function runFollow(
  io: FollowIo,
  options: FollowOptions,
  onProgress: (nextIndex: number) => void,
): Promise<FollowFileResult> {
  const started = Date.now();
  const records: ChunkRecord[] = [];
  const rewritten: ChunkRecord[] = [];
  let { checked } = options;
  let checkedMtimeMs: number | undefined;
  let manifestAt = 0;
  let inManifest = 0;
  let observation = await io.observe();
  const startSize = observation.status === 'present' ? observation.size : 0;
  // The file's growth since the follow began: what the plan spaces its looks by.
  const growthPerMs = (now: number) =>
    observation.status === 'present' && observation.size > startSize && now - started >= GROWTH_AFTER_MS
      ? (observation.size - startSize) / (now - started)
      : undefined;
  const unwritten = () => records.length + rewritten.length > inManifest;
  const flushManifest = async () => {
    await io.saveLiveManifest({ records, rewritten }, observation);
    manifestAt = Date.now();
    inManifest = records.length + rewritten.length;
  };
  // Once the interval has passed, whatever happens next: a recording that pauses after a chunk
  // would otherwise leave that chunk out of the manifest until the follow ends.
  const flushManifestIfDue = async () => {
    if (unwritten() && Date.now() - manifestAt >= options.manifestIntervalMs) await flushManifest();
  };
  const end = async (reason: FollowEnd): Promise<FollowFileResult> => {
    if (unwritten()) await flushManifest();
    return { records, rewritten, checked, observation, end: reason };
  };
  try {
    for (;;) {
      options.signal.throwIfAborted();
      if (options.stopSignal.aborted) return end('stopping');
      const nextIndex = options.firstIndex + records.length;
      const now = Date.now();
      const step = nextFollowStep(
        {
          observation,
          nextIndex,
          uploaded: records.length,
          elapsedMs: now - started,
          nowMs: now,
          checkedMtimeMs,
          bytesPerMs: growthPerMs(now),
        },
        options,
      );
      if (step.kind === 'end' && step.end === 'quiet') {
        const completed = await unlessTruncated(() => io.complete({ records, rewritten }, observation, checked));
        if (completed) return { records, rewritten, checked, observation, end: 'quiet', completed };
      }
      if (step.kind === 'end') return end(step.end);
      if (step.kind === 'check') {
        checkedMtimeMs = observation.status === 'present' ? observation.mtimeMs : undefined;
        await unlessTruncated(async () => {
          const found = await io.check({ records, rewritten }, checked);
          rewritten.push(...found.rewritten);
          checked = found.checked ?? checked;
          checkedMtimeMs = found.mtimeMs;
        });
        if (unwritten()) await flushManifest();
      } else if (step.kind === 'upload') {
        await unlessTruncated(async () => {
          records.push(...(await io.upload(step.ranges, observation.status === 'present' ? observation.mtimeMs : now)));
        });
        onProgress(options.firstIndex + records.length);
        await flushManifestIfDue();
      } else {
        await flushManifestIfDue();
        await sleep(step.ms, undefined, { signal: AbortSignal.any([options.signal, options.stopSignal]) }).catch(
          () => undefined,
        );
      }
      observation = await io.observe();
    }
  } catch (err) {
    if (!options.signal.aborted) throw err;
    // The workflow keeps what went up before the cancel: a cancelled stream's manifest then lists
    // (and its bucket keeps) every chunk a live manifest of this follow already listed.
    throw new CancelledFailure(`follow cancelled after ${records.length} chunks`, [
      { records, rewritten } satisfies FollowProgress,
    ]);
  }
}

/**
 * Runs `work`; a file rewritten under it (shorter than a chunk) is looked at again, and the plan
 * decides: undefined then.
 */
async function unlessTruncated<T>(work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof ApplicationFailure && err.type === FailureType.FileTruncated)) throw err;
    return undefined;
  }
}
