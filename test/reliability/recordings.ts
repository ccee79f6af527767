import fs from 'node:fs';
import path from 'node:path';
import { recordLive, type LiveRecording, type Mp4Kind } from '../support/media';
import type { Random } from './random';

export interface RecordingPlan {
  /** Recordings running at any time. */
  concurrent: number;
  /** Each lasts a whole number of seconds in this range. */
  seconds: [number, number];
  /** One at random for each recording. About 1 Mbit/s fills a 256 KiB chunk per 2 s idle timeout. */
  bitrates: string[];
  /** Taken in turn. */
  kinds: Mp4Kind[];
}

/** Live ffmpeg recordings that keep coming: as one ends the next starts, until `finish`. */
export interface RollingRecordings {
  /** Every recording started so far, relative to the watched directory. */
  relPaths: string[];
  /** Starts no more and waits for the running ones to end; throws when ffmpeg failed. */
  finish(): Promise<void>;
  /** Kills the running ones: for a scenario that is giving up. */
  abort(): void;
}

export function startRollingRecordings(
  watchDir: string,
  subdir: string,
  plan: RecordingPlan,
  random: Random,
): RollingRecordings {
  const relPaths: string[] = [];
  const running = new Map<Promise<void>, LiveRecording>();
  let finishing = false;
  let failure: Error | undefined;
  fs.mkdirSync(path.join(watchDir, subdir), { recursive: true });

  const startOne = () => {
    const kind = plan.kinds[relPaths.length % plan.kinds.length];
    const relPath = `${subdir}/rec-${String(relPaths.length).padStart(3, '0')}-${kind}.mp4`;
    relPaths.push(relPath);
    const recording = recordLive(path.join(watchDir, relPath), {
      seconds: random.int(...plan.seconds),
      kind,
      bitrate: random.pick(plan.bitrates),
    });
    const done: Promise<void> = recording.done.then(
      () => {
        running.delete(done);
        if (!finishing) startOne();
      },
      (err: Error) => {
        running.delete(done);
        failure ??= err;
      },
    );
    running.set(done, recording);
  };
  for (let i = 0; i < plan.concurrent; i++) startOne();

  return {
    relPaths,
    async finish() {
      finishing = true;
      while (running.size > 0) await Promise.all(running.keys());
      if (failure) throw failure;
    },
    abort() {
      finishing = true;
      for (const recording of running.values()) recording.kill();
    },
  };
}
