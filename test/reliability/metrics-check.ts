import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine } from '../support/app-process';
import type { Rig, Settled } from './rig';

const CHUNKS = 'stream_uploader_chunks_uploaded_total';

/** What the app's own metrics said at the end of a scenario, beside what the bucket holds. */
export interface MetricsFigures {
  /** `stream_uploader_chunks_uploaded_total` of the last app run. */
  chunksCounted: number;
  /** Stored chunk versions no run logged (or counted) as sent: uploads whose answer was lost. */
  storedUnacknowledged: number;
  retries: number;
  transientFailures: number;
}

/** The value of one series (`name` or `name{labels}`) in a Prometheus text exposition; 0 if absent. */
export function seriesValue(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const uploadsLogged = (lines: LogLine[]) => lines.filter((line) => line.msg === 'chunk uploaded').length;

/**
 * Holds the app's counters to what happened, as operators read them:
 * - the last run's `chunks_uploaded_total` equals the uploads it logged (metrics and logs agree);
 * - every run together logged no more uploads than the server stored: a chunk is counted once,
 *   even when its activity was retried (the retry finds it in the bucket and does not count it);
 * - every transient failure of the last run was retried by it (`retries_total` at least as high);
 * - and, where the scenario knows an upload failed (`failuresExpected`), the failure was counted.
 */
export async function checkMetrics(
  rig: Pick<Rig, 'app' | 'logs' | 'metricsText'>,
  audit: Settled,
  failuresExpected: boolean,
): Promise<{ figures: MetricsFigures; problems: string[] }> {
  // The log lines reach the test through a pipe, a moment after the counters moved.
  let metricsText = await rig.metricsText();
  for (let waits = 0; waits < 25 && seriesValue(metricsText, CHUNKS) !== uploadsLogged(rig.app.logs); waits++) {
    await sleep(200);
    metricsText = await rig.metricsText();
  }
  const logs = { lastRun: rig.app.logs, allRuns: rig.logs() };
  const figures: MetricsFigures = {
    chunksCounted: seriesValue(metricsText, CHUNKS),
    storedUnacknowledged: audit.chunkUploads.uploads - uploadsLogged(logs.allRuns),
    retries: seriesValue(metricsText, 'stream_uploader_retries_total'),
    transientFailures: seriesValue(metricsText, 'stream_uploader_activity_failures_total{reason="transient"}'),
  };
  const problems: string[] = [];
  const logged = uploadsLogged(logs.lastRun);
  if (figures.chunksCounted !== logged)
    problems.push(`chunks_uploaded_total is ${figures.chunksCounted}, but the app logged ${logged} chunk uploads`);
  if (figures.storedUnacknowledged < 0)
    problems.push(
      `the app logged ${-figures.storedUnacknowledged} more chunk uploads than the server stored: some were counted twice`,
    );
  if (figures.retries < figures.transientFailures)
    problems.push(`${figures.transientFailures} transient failures, but only ${figures.retries} retries counted`);
  if (failuresExpected && (figures.transientFailures === 0 || figures.retries === 0))
    problems.push('an upload failed for sure, yet activity_failures_total{reason="transient"} or retries_total is 0');
  return { figures, problems };
}
