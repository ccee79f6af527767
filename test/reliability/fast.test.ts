import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FAST } from './profiles';
import { newReport, writeReportJson, type ReportRow } from './report';
import { contextFor } from './scenario';
import { SCENARIOS } from './scenarios';

/**
 * The fault-injection suite's fast subset, for every test run: each scenario with fewer faults and
 * files than `npm run reliability`, two at a time (each has its own rig, and most of a scenario is
 * waiting for its faults and idle timeouts). Set RELIABILITY_SEED to replay the fault timings of a
 * run.
 */
describe('reliability (fast subset): nothing lost, nothing doubled', { concurrency: 2 }, () => {
  const seed = process.env.RELIABILITY_SEED ? Number(process.env.RELIABILITY_SEED) : Date.now() % 2 ** 31;
  const started = Date.now();
  const rows: ReportRow[] = [];
  after(() =>
    writeReportJson(
      newReport(FAST.name, seed, inScenarioOrder(rows), (Date.now() - started) / 1000),
      path.resolve(__dirname, '..', '.tmp', 'reliability-fast.json'),
    ),
  );

  for (const scenario of SCENARIOS) {
    test(scenario.title, async (t) => {
      t.diagnostic(`seed ${seed}`);
      const figures = await scenario.run(contextFor(scenario, FAST, seed));
      rows.push(figures);
      t.diagnostic(JSON.stringify(figures));
      assert.ok(figures.streams > 0, 'the scenario made streams');
      assert.equal(figures.faultsInjected > 0, true, 'the scenario injected faults');
      assert.equal(figures.mismatchedStreams, 0, 'streams whose bytes in the bucket differ from the source');
      assert.equal(figures.incompleteStreams, 0, 'streams that did not end as expected');
      assert.equal(
        figures.prematureCompletions,
        0,
        'complete manifests stored before their file was idle for the idle timeout',
      );
      assert.equal(figures.duplicateChunkUploads, 0, 'chunks uploaded again with identical bytes');
      assert.deepEqual(figures.problems, []);
    });
  }
});

function inScenarioOrder(rows: ReportRow[]): ReportRow[] {
  const position = (row: ReportRow) => SCENARIOS.findIndex((scenario) => scenario.fault === row.fault);
  return [...rows].sort((a, b) => position(a) - position(b));
}
