import { nextFullChunks } from './chunk-plan';
import type { ChunkRange, FileObservation } from './types';

/**
 * Why a follow of a growing file ended: it went quiet (idle: the stream completes),
 * it carried a full batch or ran its time (the workflow follows again), the file is gone or shrank
 * under the uploaded chunks (the workflow decides), or this process is shutting down.
 */
export type FollowEnd = 'quiet' | 'batch' | 'time' | 'gone' | 'shrank' | 'stopping';

export interface FollowLimits {
  chunkSize: number;
  /** The file counts as quiet once unchanged this long. */
  settleMs: number;
  maxChunks: number;
  maxMs: number;
  /** The longest wait between two looks at the file. */
  pollMs: number;
}

export interface FollowPosition {
  observation: FileObservation;
  /** The first chunk not uploaded yet. */
  nextIndex: number;
  /** Chunks this follow has uploaded so far. */
  uploaded: number;
  elapsedMs: number;
  nowMs: number;
}

export type FollowStep = { kind: 'upload'; ranges: ChunkRange[] } | { kind: 'wait'; ms: number } | { kind: 'end'; end: FollowEnd };

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
  if (quietMs >= limits.settleMs) return { kind: 'end', end: 'quiet' };
  return { kind: 'wait', ms: Math.max(1, Math.min(limits.pollMs, limits.settleMs - quietMs)) };
}
