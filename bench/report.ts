import fs from 'node:fs';
import path from 'node:path';
import type { AppMetrics } from './app';
import type { BacklogResult, Contender } from './backlog';
import type { BenchPlan, Section } from './context';
import type { AppCost } from './cost';
import type { FinalizeResults } from './finalize';
import { formatBytes } from '../src/stream/format-bytes';
import { WRITE_INTERVAL_MS, type LiveRun, type Percentiles } from './live';
import type { ScaleOutResult } from './scale-out';

/** Everything one run measured, as written to `bench/results/<mode>-<label>.json`. */
export interface BenchResults {
  label: string;
  mode: BenchPlan['mode'];
  startedAt: string;
  finishedAt: string;
  host: {
    cpus: number;
    cpuModel: string;
    memoryGb: number;
    node: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  /** The app under test: its checkout, commit, whether its src/ had uncommitted changes, how it was started, and --app-env. */
  app: { dir: string; commit: string | null; srcDirty: boolean | null; command: string; env: Record<string, string> };
  plan: BenchPlan;
  backlog?: BacklogResult;
  live?: LiveRun[];
  scaleOut?: ScaleOutResult;
  finalize?: FinalizeResults;
  errors: Array<{ section: Section; message: string }>;
}

/** The issue's targets; the report states the gap to each. */
const TARGETS = {
  putLoopThroughputRatio: 0.9,
  chunkLagP99Seconds: 1,
  finalizeLatencySeconds: 1,
  peakRssMbAt10Streams: 150,
  historyEventsPerChunk: 4,
  finalizeGrowthSeconds: 0.5,
};

export function writeReport(results: BenchResults, outDir: string): { json: string; markdown: string } {
  fs.mkdirSync(outDir, { recursive: true });
  const json = path.join(outDir, `${results.mode}-${results.label}.json`);
  const markdown = path.join(outDir, `${results.label}.md`);
  fs.writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  fs.writeFileSync(markdown, renderMarkdown(results));
  return { json, markdown };
}

const fixed = (value: number, digits = 2) => value.toFixed(digits);
const mb = (bytes: number) => fixed(bytes / 1e6, 0);
const table = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
const contenderRow = (name: string, c: Contender, ratio: string) => {
  const cpu = c.cpuSecondsPerGb;
  return [
    name,
    fixed(c.seconds),
    fixed(c.mbPerSecond, 1),
    ratio,
    `${fixed(cpu.client, 1)}, ${fixed(cpu.minio, 1)}, ${fixed(cpu.temporal, 1)}`,
  ];
};
const lagCells = (p: Percentiles) => [fixed(p.p50, 3), fixed(p.p95, 3), fixed(p.p99, 3), fixed(p.max, 3)];

export function renderMarkdown(r: BenchResults): string {
  const { plan } = r;
  const out: string[] = [];
  out.push(`# Benchmark \`${r.label}\` (${r.mode})`, '');
  out.push(
    `App: \`${r.app.dir}\` at ${r.app.commit?.slice(0, 7) ?? 'unknown commit'}${r.app.srcDirty ? ' with uncommitted changes in src/' : ''}, run as \`node ${r.app.command}\`` +
      `${
        Object.keys(r.app.env).length > 0
          ? `, env ${Object.entries(r.app.env)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`
          : ''
      }. ` +
      `Host: ${r.host.cpus} CPUs (${r.host.cpuModel}), ${fixed(r.host.memoryGb, 0)} GB, Node ${r.host.node}, load average ${r.host.loadAverageAtStart.map((l) => fixed(l, 1)).join(' ')} at start. ` +
      `${r.startedAt} to ${r.finishedAt}. Chunk size ${plan.chunkSize} bytes.`,
    '',
  );

  if (r.backlog) {
    const b = r.backlog;
    out.push(`## Backlog: ${b.files} files (${b.distinct} distinct recordings), ${mb(b.totalBytes)} MB`, '');
    out.push(
      `Baselines move ${b.parallel} files at once; ${b.start === 'warm' ? 'page cache left warm' : `before each contender: writes flushed, ${b.start}`}. The app's wall time runs from the files appearing in its watched directory to the last complete manifest, with whatever idle wait the version imposes (STREAM_IDLE_TIMEOUT ${b.app.idleTimeoutMs} ms).`,
      '',
    );
    out.push(
      table(
        ['Contender', 'Wall s', 'MB/s', 'App time ÷ this', 'CPU s/GB: client, MinIO, Temporal'],
        [
          contenderRow('read the files (disk)', b.disk, fixed(b.timeRatio.disk)),
          contenderRow('PutObject loop', b.putLoop, fixed(b.timeRatio.putLoop)),
          contenderRow('rclone copy', b.rclone, fixed(b.timeRatio.rclone)),
          contenderRow('**the app**', b.app, '1.00'),
        ],
      ),
      '',
      `Verified byte for byte: ${b.app.verification.identical} of ${b.app.verification.checked} streams checked (of ${b.app.verification.streams})${b.app.verification.mismatches.length ? `; MISMATCHES: ${b.app.verification.mismatches.join(', ')}` : ''}.`,
      '',
    );
  }

  if (r.live?.length) {
    const l = r.live[0];
    const pace =
      l.writeSize === undefined ? `what is due every ${WRITE_INTERVAL_MS} ms` : `${formatBytes(l.writeSize)} at a time`;
    out.push(
      `## Live: writers replaying a ${fixed(l.mbitPerSecondPerStream, 1)} Mbit/s recording for ${l.seconds} s each, ${pace}, idle timeout ${l.idleTimeoutMs} ms`,
      '',
    );
    out.push(
      `Chunk lag: a full chunk's last byte written to its object seen in S3 (HEAD every ${l.pollMs} ms); to uploadedAt: to the time the manifest records. Finalize: last write to the complete manifest seen, minus the idle timeout. Seconds.`,
      '',
    );
    out.push(
      table(
        ['Streams', 'Chunks', 'Lag p50', 'p95', 'p99', 'max', 'Lag to uploadedAt p99', 'Finalize p50', 'Finalize max'],
        r.live.map((run) => [
          String(run.streams),
          String(run.chunkLag.n),
          ...lagCells(run.chunkLag),
          fixed(run.chunkLagToUploadedAt.p99, 3),
          fixed(run.finalizeLatency.p50, 3),
          fixed(run.finalizeLatency.max, 3),
        ]),
      ),
      '',
    );
  }

  const costs: Array<readonly [string, AppCost, AppMetrics]> = [
    ...(r.backlog
      ? [
          [
            `backlog, ${r.backlog.files} × ${mb(r.backlog.totalBytes / r.backlog.files)} MB files, 1 process`,
            r.backlog.app.cost,
            r.backlog.app.appMetrics,
          ] as const,
        ]
      : []),
    ...(r.live ?? []).map(
      (run) =>
        [
          `live, ${run.streams} stream${run.streams === 1 ? '' : 's'}${run.layout === 'edge' ? ', edge process (workflows in another)' : ''}`,
          run.cost,
          run.appMetrics,
        ] as const,
    ),
    ...(r.scaleOut
      ? [
          [
            'scale-out backlog, 2 processes (summed)',
            r.scaleOut.twoProcesses.cost,
            r.scaleOut.twoProcesses.appMetrics,
          ] as const,
          ...(r.scaleOut.twoEdges
            ? [
                [
                  'scale-out backlog, 2 edges + 1 workflow process (summed)',
                  r.scaleOut.twoEdges.cost,
                  r.scaleOut.twoEdges.appMetrics,
                ] as const,
              ]
            : []),
        ]
      : []),
  ];
  if (costs.length > 0) {
    out.push('## Cost of the app process', '');
    out.push(
      'CPU is user + system time of the process tree while it worked, and of the Temporal server and MinIO over the same span; host busy is the whole machine (other work included) in cores. Peak RSS is the largest resident set then (start-up excluded), RSS at rest the set when the workload began. History events: every run of every stream workflow, divided by the chunks in the manifests.',
      '',
    );
    out.push(
      table(
        [
          'Run',
          'MB',
          'CPU s',
          'CPU s/GB',
          'Temporal, MinIO CPU s',
          'Host busy, cores',
          'Peak RSS MB',
          'RSS at rest MB',
          'V8 heap, external MB at end',
          'History events/chunk',
          'Per chunk: workflow tasks, activities, signals, timers',
          'Chunk upload s (app metric, mean)',
        ],
        costs.map(([name, cost, metrics]) => [
          name,
          mb(cost.bytes),
          fixed(cost.cpuSeconds, 1),
          fixed(cost.cpuSecondsPerGb, 1),
          `${cost.host.serverCpuSeconds.temporal ?? '?'}, ${cost.host.serverCpuSeconds.minio ?? '?'}`,
          `${fixed(cost.host.hostBusyCpuSeconds / cost.host.wallSeconds, 1)} of ${cost.host.cores}`,
          fixed(cost.peakRssMb, 0),
          fixed(cost.restRssMb, 0),
          `${metrics.heapUsedMb}, ${metrics.externalMb}`,
          fixed(cost.history.eventsPerChunk, 1),
          Object.values(cost.history.perChunk)
            .map((n) => fixed(n, 1))
            .join(', '),
          fixed(metrics.chunkUploadSecondsMean, 3),
        ]),
      ),
      '',
    );
  }

  if (costs.length > 0) {
    out.push('## Where the time goes, from the Temporal histories', '');
    out.push(
      'Means per activity execution: queued is scheduled to started (waiting for a worker slot or a poll), ran is started to closed. A workflow task (scheduled to completed) is the round trip between one step of a stream and the next.',
      '',
    );
    out.push(
      table(
        ['Run', 'Step', 'Count', 'Queued s', 'Ran s'],
        costs.flatMap(([name, cost]) => [
          [
            name,
            'workflow task',
            String(cost.history.workflowTasks.count),
            '',
            fixed(cost.history.workflowTasks.meanSeconds, 3),
          ],
          ...Object.entries(cost.history.activities).map(([type, t]) => [
            '',
            type,
            String(t.count),
            fixed(t.queuedSeconds, 3),
            fixed(t.runSeconds, 3),
          ]),
          ...(cost.history.ends.startSeconds === undefined
            ? []
            : [['', 'files appearing to a workflow started', '', '', fixed(cost.history.ends.startSeconds, 3)]]),
          ['', 'last activity closed to the workflow closed', '', '', fixed(cost.history.ends.closeSeconds, 3)],
        ]),
      ),
      '',
    );
  }

  if (r.scaleOut) {
    const s = r.scaleOut;
    out.push('## Scale-out: the backlog over two app processes, one Temporal server', '');
    out.push(
      table(
        ['Processes', 'Wall s', 'MB/s'],
        [
          [`1 (${s.oneProcess.from})`, fixed(s.oneProcess.seconds), fixed(s.oneProcess.mbPerSecond, 1)],
          [`2 (${s.twoProcesses.queues})`, fixed(s.twoProcesses.seconds), fixed(s.twoProcesses.mbPerSecond, 1)],
          ...(s.twoEdges
            ? [['2 edges + 1 workflow process', fixed(s.twoEdges.seconds), fixed(s.twoEdges.mbPerSecond, 1)]]
            : []),
        ],
      ),
      '',
      `Speed-up ${fixed(s.speedup)}×; verified ${s.twoProcesses.verification.identical} of ${s.twoProcesses.verification.checked} streams checked.`,
      ...(s.twoEdges
        ? [
            `Edges and a workflow process: speed-up ${fixed(s.edgesSpeedup ?? 0)}×; verified ${s.twoEdges.verification.identical} of ${s.twoEdges.verification.checked} streams checked.`,
          ]
        : []),
      '',
    );
  }

  if (r.finalize) {
    const f = r.finalize;
    out.push(
      `## Finalize: a regular MP4 recorded at ${f.writeMbPerSecond} MB/s, header patched at stop, idle timeout ${f.idleTimeoutMs} ms`,
      '',
    );
    out.push('From the last write to the complete manifest seen, minus the idle timeout. Seconds.', '');
    out.push(
      table(
        ['Recording MB', 'Finalize s', 'Bucket equals the file'],
        f.runs.map((run) => [mb(run.bytes), fixed(run.latency, 3), run.identical ? 'yes' : '**no**']),
      ),
      '',
    );
  }

  const targets = targetRows(r);
  if (targets.length > 0) out.push('## Targets', '', table(['Target', 'Measured', 'Met'], targets), '');
  if (r.errors.length > 0) out.push('## Errors', '', ...r.errors.map((e) => `- ${e.section}: ${e.message}`), '');
  return `${out.join('\n')}\n`;
}

function targetRows(r: BenchResults): string[][] {
  const rows: string[][] = [];
  const met = (ok: boolean) => (ok ? 'yes' : '**no**');
  if (r.backlog) {
    const vsPut = 1 / r.backlog.timeRatio.putLoop;
    const vsRclone = 1 / r.backlog.timeRatio.rclone;
    rows.push([
      `Backlog throughput ≥ ${TARGETS.putLoopThroughputRatio} × PutObject loop`,
      `${fixed(vsPut)} ×`,
      met(vsPut >= TARGETS.putLoopThroughputRatio),
    ]);
    rows.push(['Backlog faster than rclone copy', `${fixed(vsRclone)} × rclone's throughput`, met(vsRclone > 1)]);
  }
  const live10 = r.live?.find((run) => run.streams === 10) ?? r.live?.at(-1);
  if (live10) {
    rows.push([
      `Chunk lag p99 < ${TARGETS.chunkLagP99Seconds} s (${live10.streams} streams)`,
      `${fixed(live10.chunkLag.p99, 3)} s`,
      met(live10.chunkLag.p99 < TARGETS.chunkLagP99Seconds),
    ]);
    rows.push([
      `Manifest within ${TARGETS.finalizeLatencySeconds} s after the idle timeout (${live10.streams} streams, max)`,
      `${fixed(live10.finalizeLatency.max, 3)} s`,
      met(live10.finalizeLatency.max < TARGETS.finalizeLatencySeconds),
    ]);
    rows.push([
      `Peak RSS < ${TARGETS.peakRssMbAt10Streams} MB (${live10.streams} streams)`,
      `${fixed(live10.cost.peakRssMb, 0)} MB`,
      met(live10.cost.peakRssMb < TARGETS.peakRssMbAt10Streams),
    ]);
  }
  if (r.finalize && r.finalize.runs.length > 1) {
    const { runs, growth } = r.finalize;
    rows.push([
      `Finalize of a ${mb(runs[runs.length - 1].bytes)} MB recording ≤ ${TARGETS.finalizeGrowthSeconds} s slower than of ${mb(runs[0].bytes)} MB`,
      `${fixed(growth, 3)} s slower`,
      met(growth <= TARGETS.finalizeGrowthSeconds),
    ]);
  }
  const histories = [
    r.backlog?.app.cost,
    ...(r.live ?? []).map((run) => run.cost),
    r.scaleOut?.twoProcesses.cost,
    r.scaleOut?.twoEdges?.cost,
  ]
    .filter((c): c is AppCost => !!c)
    .map((c) => c.history);
  if (histories.length > 0) {
    const perChunk =
      histories.reduce((sum, h) => sum + h.events, 0) /
      Math.max(
        1,
        histories.reduce((sum, h) => sum + h.chunks, 0),
      );
    rows.push([
      `≤ ${TARGETS.historyEventsPerChunk} history events per chunk (all runs)`,
      fixed(perChunk, 1),
      met(perChunk <= TARGETS.historyEventsPerChunk),
    ]);
  }
  return rows;
}
