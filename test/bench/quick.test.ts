import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { BenchResults } from '../../bench/report';
import { tempDir } from '../support/stack';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The benchmark's quick mode, run as `npm run bench -- --quick` runs it, so that the harness cannot
 * rot: every section and every baseline ran, produced plausible figures, and every stream arrived
 * byte for byte. The figures themselves are not judged here: CI machines are too noisy for that.
 */
test('the quick benchmark runs every section and writes its results', { timeout: 10 * 60_000 }, async () => {
  const out = tempDir('bench');
  await run(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'bench', 'run.ts'), '--quick', '--label', 'ci', '--out', out],
    {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const results = JSON.parse(fs.readFileSync(path.join(out, 'quick-ci.json'), 'utf8')) as BenchResults;
  assert.ok(fs.readFileSync(path.join(out, 'ci.md'), 'utf8').includes('## Targets'));
  assert.deepEqual(results.errors, []);

  const { backlog, live, scaleOut } = results;
  assert.ok(backlog && live && scaleOut, 'every section has results');
  const twoEdges = scaleOut.twoEdges;
  assert.ok(twoEdges, 'scale-out ran two edges and a workflow process');
  for (const contender of [backlog.disk, backlog.putLoop, backlog.rclone, backlog.app]) {
    assert.ok(
      contender.seconds > 0 && contender.bytes === backlog.totalBytes && contender.mbPerSecond > 0,
      contender.how,
    );
  }
  for (const { verification } of [backlog.app, scaleOut.twoProcesses, twoEdges]) {
    assert.equal(verification.checked, verification.streams, 'every stream is checked in quick mode');
    assert.equal(verification.identical, verification.streams, `streams differ: ${verification.mismatches.join(', ')}`);
  }

  assert.deepEqual(
    live.map((run) => run.streams),
    results.plan.live.streamCounts,
  );
  for (const run of live) {
    assert.ok(run.chunkLag.n > 0 && run.chunkLag.p50 > 0, `live ${run.streams}: chunk lag measured`);
    assert.equal(run.finalizeLatency.n, run.streams);
  }

  const costs = [backlog.app.cost, ...live.map((run) => run.cost), scaleOut.twoProcesses.cost, twoEdges.cost];
  for (const cost of costs) {
    assert.ok(cost.peakRssMb > 0 && cost.cpuSeconds > 0 && cost.cpuSecondsPerGb > 0);
    assert.ok(
      cost.history.chunks > 0 && cost.history.eventsPerChunk > 0 && cost.history.runs >= cost.history.workflows,
    );
  }
  assert.equal(scaleOut.twoProcesses.processes, 2);
  assert.ok(scaleOut.speedup > 0);
  assert.deepEqual([twoEdges.processes, twoEdges.layout, twoEdges.queues], [2, 'edges', 'host-queues']);
  assert.ok((scaleOut.edgesSpeedup ?? 0) > 0);

  assert.ok(results.finalize, 'the finalize section has results');
  assert.deepEqual(
    results.finalize.runs.map((run) => run.identical),
    [true, true],
    'each recording arrived byte for byte',
  );
  assert.ok(results.finalize.runs.every((run) => Number.isFinite(run.latency)));
});
