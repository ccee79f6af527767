import { nextFullChunks } from './chunk-plan';
import { MTIME_SETTLE_MS } from './settled-chunks';
import type { ChunkRange, FileObservation } from './types';

/**
 * Why a follow of a growing file ended: the file went idle ('quiet', as histories name it: the
 * stream completes), it carried a full batch or ran its time (the workflow follows again), the file is gone or shrank
 * under the uploaded chunks (the workflow decides), or this process is shutting down.
 */
export type FollowEnd = 'quiet' | 'batch' | 'time' | 'gone' | 'shrank' | 'stopping';

export interface FollowLimits {
  chunkSize: number;
  /** The file is idle once unchanged this long (see docs/glossary.md). */
  idleTimeoutMs: number;
  maxChunks: number;
  maxMs: number;
  /** The wait between two looks at the file as a chunk's end nears, or while its growth is unknown. */
  pollMs: number;
  /** The longest wait between two looks at the file while its next chunk is far off. */
  maxPollMs: number;
}

export interface FollowPosition {
  observation: FileObservation;
  /** The first chunk not uploaded yet. */
  nextIndex: number;
  /** Chunks this follow has uploaded so far. */
  uploaded: number;
  elapsedMs: number;
  nowMs: number;
  /** The mtime under which this follow last checked the uploaded chunks against the file. */
  checkedMtimeMs?: number;
  /** How fast the file grew while followed, in bytes per ms; absent until known. */
  bytesPerMs?: number;
}

/**
 * At most this many chunks, and this many bytes, go up in one follow. More than an upload
 * activity's batch: a follow's round trip (a workflow task, an activity's dispatch, a look at the
 * file) is what a backlog file waits on between follows, and its result holds only the records
 * (about 350 bytes each in the history). A 200 MB file goes up in one follow, a 4 GB one in six.
 */
export const MAX_FOLLOW_CHUNKS = 64;
export const MAX_FOLLOW_BYTES = 640 * 2 ** 20;

/** How many chunks one follow uploads before it returns to the workflow. */
export function followBatchChunks(chunkSize: number): number {
  return Math.max(1, Math.min(MAX_FOLLOW_CHUNKS, Math.floor(MAX_FOLLOW_BYTES / chunkSize)));
}

/** One follow carries at most this long of a recording, so that the stream's progress moves on. */
export const MAX_FOLLOW_MS = 5 * 60_000;
/** How often a followed file is looked at as its next chunk nears: the most a full chunk waits before it goes up. */
export const FOLLOW_POLL_MS = 200;
/**
 * How long a follow may leave a growing file unlooked at while its next chunk is far off: a
 * recording resumed after a pause waits at most this long. Looking every 200 ms throughout cost a
 * camera's stream 70 stats per 10 MiB chunk at 6 Mbit/s (docs/performance.md).
 */
export const FOLLOW_MAX_POLL_MS = 2_000;

/**
 * How long a file is quiet before a follow checks its chunks: half the idle timeout, so that a
 * recorder's usual pauses do not make it re-read the file, and the check has the other half to
 * run in; and never before the file's mtime has settled.
 */
export function checkAfterQuietMs(idleTimeoutMs: number): number {
  return Math.max(MTIME_SETTLE_MS, idleTimeoutMs / 2);
}

/**
 * `check`: compare the uploaded chunks with the file (and upload again those it rewrote) while it
 * is quiet, before it is idle, so that completing the stream need not read them again.
 */
export type FollowStep =
  | { kind: 'upload'; ranges: ChunkRange[] }
  | { kind: 'check' }
  | { kind: 'wait'; ms: number }
  | { kind: 'end'; end: FollowEnd };

/** What a follow does next, given the newest look at the file. */
export function nextFollowStep(position: FollowPosition, limits: FollowLimits): FollowStep {
  const { observation, nextIndex, uploaded } = position;
  if (observation.status !== 'present') return { kind: 'end', end: 'gone' };
  if (observation.size < nextIndex * limits.chunkSize) return { kind: 'end', end: 'shrank' };
  if (uploaded >= limits.maxChunks) return { kind: 'end', end: 'batch' };
  const ranges = nextFullChunks(nextIndex, limits.chunkSize, observation.size, limits.maxChunks - uploaded);
  if (ranges.length > 0) return { kind: 'upload', ranges };
  if (position.elapsedMs >= limits.maxMs) return { kind: 'end', end: 'time' };
  const quietMs = position.nowMs - observation.mtimeMs;
  const unchecked = nextIndex > 0 && position.checkedMtimeMs !== observation.mtimeMs;
  // An idle file whose chunks were not checked under its (settled) mtime, a backlog's or one
  // written after the quiet check, is checked before the end, so that the follow can complete it.
  if (quietMs >= limits.idleTimeoutMs)
    return unchecked && quietMs >= MTIME_SETTLE_MS ? { kind: 'check' } : { kind: 'end', end: 'quiet' };
  if (unchecked && quietMs >= checkAfterQuietMs(limits.idleTimeoutMs)) return { kind: 'check' };
  const untilCheckMs = unchecked ? checkAfterQuietMs(limits.idleTimeoutMs) - quietMs : Infinity;
  const untilDueMs = Math.min(limits.idleTimeoutMs - quietMs, untilCheckMs);
  return { kind: 'wait', ms: Math.max(1, Math.min(nextLookMs(position, limits), untilDueMs)) };
}

/**
 * Half the time the next chunk needs at the rate the file has grown, within [pollMs, maxPollMs]:
 * looks come closer as the chunk's end nears, and a recorder writing up to twice as fast as
 * before is still seen by the time the chunk is full.
 */
function nextLookMs({ observation, nextIndex, bytesPerMs }: FollowPosition, limits: FollowLimits): number {
  if (observation.status !== 'present' || !bytesPerMs) return limits.pollMs;
  const untilChunkMs = ((nextIndex + 1) * limits.chunkSize - observation.size) / bytesPerMs;
  return Math.min(limits.maxPollMs, Math.max(limits.pollMs, untilChunkMs / 2));
}
