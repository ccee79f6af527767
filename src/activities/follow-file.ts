import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../stream/failures';
import { nextFollowStep, type FollowEnd, type FollowLimits } from '../stream/follow-plan';
import type { ChunkRange, ChunkRecord, FileObservation } from '../stream/types';

export interface FollowFileResult {
  /** The chunks uploaded, in order from the follow's first index; all are in metadata.json. */
  records: ChunkRecord[];
  /** The last look at the file. */
  observation: FileObservation;
  end: FollowEnd;
}

export interface FollowIo {
  observe(): Promise<FileObservation>;
  /** Uploads the ranges; `bytesCompleteAtMs` is when their bytes were seen on disk. */
  upload(ranges: ChunkRange[], bytesCompleteAtMs: number): Promise<ChunkRecord[]>;
  /** Rewrites the live manifest with every record uploaded so far. */
  writeManifest(records: ChunkRecord[], observation: FileObservation): Promise<void>;
}

export interface FollowOptions extends FollowLimits {
  firstIndex: number;
  manifestIntervalMs: number;
  /** Aborted on cancellation: the follow throws. */
  signal: AbortSignal;
  /** Aborted when the process shuts down: the follow ends with what it has. */
  stopSignal: AbortSignal;
}

/**
 * Follows a growing file on this host like `tail -f`: each full chunk goes up as soon as it is on
 * disk, the live manifest is rewritten as they go, and the follow ends when the file goes quiet,
 * after a bounded batch or time, or when the file shrinks or disappears. One activity thus
 * carries many chunks of a live recording, where a round trip per chunk would cost the stream's
 * history about ten events each.
 */
export async function followFile(io: FollowIo, options: FollowOptions, onProgress: (nextIndex: number) => void): Promise<FollowFileResult> {
  const started = Date.now();
  const records: ChunkRecord[] = [];
  let manifestAt = 0;
  let inManifest = 0;
  let observation = await io.observe();
  const writeManifest = async () => {
    await io.writeManifest(records, observation);
    manifestAt = Date.now();
    inManifest = records.length;
  };
  const end = async (reason: FollowEnd): Promise<FollowFileResult> => {
    if (records.length > inManifest) await writeManifest();
    return { records, observation, end: reason };
  };
  for (;;) {
    options.signal.throwIfAborted();
    if (options.stopSignal.aborted) return end('stopping');
    const nextIndex = options.firstIndex + records.length;
    const now = Date.now();
    const step = nextFollowStep({ observation, nextIndex, uploaded: records.length, elapsedMs: now - started, nowMs: now }, options);
    if (step.kind === 'end') return end(step.end);
    if (step.kind === 'upload') {
      try {
        records.push(...(await io.upload(step.ranges, observation.status === 'present' ? observation.mtimeMs : now)));
      } catch (err) {
        // Rewritten under the upload: look again, and let the plan decide.
        if (!(err instanceof ApplicationFailure && err.type === FailureType.FileTruncated)) throw err;
      }
      onProgress(options.firstIndex + records.length);
      if (records.length > inManifest && Date.now() - manifestAt >= options.manifestIntervalMs) await writeManifest();
    } else {
      await sleep(step.ms, undefined, { signal: AbortSignal.any([options.signal, options.stopSignal]) }).catch(() => undefined);
    }
    observation = await io.observe();
  }
}
