import type { OperatorPlan } from './operator-scenarios';
import type { RecordingPlan } from './recordings';

/** How hard a run pushes: the fast subset for every test run, the full suite for the report. */
export interface Profile {
  name: 'fast' | 'full';
  /** The live recordings each fault scenario runs while it injects faults. */
  recordings: RecordingPlan;
  kills: number;
  /** Once a restarted app has made progress, the next kill comes within this many ms. */
  killDelayMs: [number, number];
  /** Kills after which the app stays down longer than the idle timeout. */
  longDownKills: number;
  linkFaults: number;
  linkFaultMs: [number, number];
  /** S3 is down (or silent) this long: longer than `s3RequestTimeout`, the most one upload attempt waits. */
  s3OutageMs: number;
  s3RequestTimeout: string;
  temporalRestarts: number;
  temporalDownMs: number;
  sigterms: number;
  smallFiles: number;
  /** The randomized sequences of operator actions, recorder habits and faults. */
  operators: OperatorPlan;
  /** How long streams get to end after the faults; past it they count as incomplete (a hang). */
  completionTimeoutMs: number;
}

export const FAST: Profile = {
  name: 'fast',
  recordings: { concurrent: 2, seconds: [8, 12], bitrates: ['1M'], kinds: ['regular', 'fragmented'] },
  kills: 3,
  killDelayMs: [0, 2000],
  longDownKills: 2,
  linkFaults: 3,
  linkFaultMs: [500, 3000],
  s3OutageMs: 8000,
  s3RequestTimeout: '3s',
  temporalRestarts: 1,
  temporalDownMs: 3000,
  sigterms: 1,
  smallFiles: 100,
  operators: { sequences: 3, actions: [4, 6], lanes: 3, endTimeoutMs: 60_000, seed: 1662708869 },
  completionTimeoutMs: 60_000,
};

export const FULL: Profile = {
  name: 'full',
  recordings: { concurrent: 3, seconds: [20, 60], bitrates: ['1M', '2M'], kinds: ['regular', 'fragmented'] },
  kills: 20,
  killDelayMs: [0, 8000],
  longDownKills: 5,
  linkFaults: 20,
  linkFaultMs: [500, 10_000],
  s3OutageMs: 45_000,
  s3RequestTimeout: '20s',
  temporalRestarts: 3,
  temporalDownMs: 20_000,
  sigterms: 3,
  smallFiles: 2000,
  operators: { sequences: 200, actions: [5, 10], lanes: 4, endTimeoutMs: 120_000 },
  completionTimeoutMs: 300_000,
};
