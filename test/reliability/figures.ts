import type { Settled } from './rig';

/** One row of the report: what a fault did to the streams, measured independently of the app. */
export interface FaultFigures {
  fault: string;
  title: string;
  /** App processes started (a restart is a new run). */
  runs: number;
  faultsInjected: number;
  streams: number;
  /** Source bytes compared with the bucket. */
  bytes: number;
  /** Streams whose bytes in the bucket differ from the source: must be 0. */
  mismatchedStreams: number;
  /** Streams that did not end as expected (a hang, a stream lost): must be 0. */
  incompleteStreams: number;
  /** Complete manifests stored before their file had been idle for the idle timeout: must be 0. */
  prematureCompletions: number;
  /** Chunk uploads of bytes the bucket already held under that key: must be 0. */
  duplicateChunkUploads: number;
  /** Chunk uploads that replaced other bytes: the recorder had rewritten them (legitimate). */
  rewrittenChunkUploads: number;
  /** From the fault's end (restart, link restored, server back) to the next progress of a stream. */
  recoverySeconds: Distribution;
  /** The scenario's wall time. */
  seconds: number;
  /** Figures particular to the scenario. */
  extra: Record<string, number | string | boolean | null>;
  /** Every broken expectation; empty when the scenario passed. */
  problems: string[];
}

export interface Distribution {
  samples: number;
  p50: number | null;
  max: number | null;
}

export function distribution(values: number[]): Distribution {
  if (values.length === 0) return { samples: 0, p50: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    samples: sorted.length,
    p50: round(sorted[Math.floor((sorted.length - 1) / 2)]),
    max: round(sorted[sorted.length - 1]),
  };
}

export interface ScenarioResult {
  faultsInjected: number;
  recovery: number[];
  extra?: FaultFigures['extra'];
  /** Broken expectations the scenario checked itself (log lines, manifest revisions, exit codes). */
  problems?: string[];
  /** An upload surely failed (S3 was out): the app's metrics must count a transient failure and a retry. */
  failuresExpected?: boolean;
}

export function figuresOf(
  scenario: { fault: string; title: string },
  runs: number,
  result: ScenarioResult,
  audit: Settled,
  seconds: number,
): FaultFigures {
  return {
    fault: scenario.fault,
    title: scenario.title,
    runs,
    faultsInjected: result.faultsInjected,
    streams: audit.streams,
    bytes: audit.bytes,
    mismatchedStreams: audit.mismatched.length,
    incompleteStreams: audit.incomplete.size,
    prematureCompletions: audit.prematureCompletions.length,
    duplicateChunkUploads: audit.chunkUploads.duplicates.length,
    rewrittenChunkUploads: audit.chunkUploads.rewrites.length,
    recoverySeconds: distribution(result.recovery),
    seconds: Math.round(seconds),
    extra: result.extra ?? {},
    problems: [...(result.problems ?? []), ...audit.problems],
  };
}
