import fs from 'node:fs';
import path from 'node:path';
import { downloadStreamSha256 } from '../test/support/bucket';
import { appReadsEnv, scrapeAppMetrics, startAppUnderTest, type AppMetrics, type AppRun, type RunningApp } from './app';
import { readFiles, putChunks, rcloneCopy, type Timed } from './baselines';
import { closedWithManifest, emptyPrefix, streamTarget, type ManifestView, type StreamTarget } from './bucket-poll';
import type { BenchContext } from './context';
import { appCost, historyCost, round, type AppCost } from './cost';
import { backlogFiles, flushWrites, linkInto, startCold, type CachedFile } from './fixtures';
import { meterHost, meterProcesses, selfCpuSeconds } from './process-stats';

/**
 * Backlog: recordings already on disk when they are handed to the app. The app's wall time, from
 * the files appearing in its watched directory to the last complete manifest in the bucket, is set
 * against three baselines run on the same files and the same S3 server.
 */

export interface Contender extends Timed {
  mbPerSecond: number;
  /**
   * CPU seconds per GB moved: the client's (the bench process and rclone for baselines, the app's
   * process for the app), MinIO's and Temporal's, over the contender's span.
   */
  cpuSecondsPerGb: { client: number; minio: number; temporal: number };
}

/**
 * How the app's processes are laid out: each runs everything (`all-in-one`), or each is an edge
 * beside its files (ROLE=edge) and one more process runs the workflows (ROLE=workflow).
 */
export type AppLayout = 'all-in-one' | 'edges';

export interface AppBacklogRun extends Contender {
  /** The processes that read files; `edges` adds one workflow process (metered with them). */
  processes: number;
  layout: AppLayout;
  /** How the processes share work: one task queue with host queues (HOST_ID), or one queue each. */
  queues: 'single' | 'host-queues' | 'separate';
  idleTimeoutMs: number;
  cost: AppCost;
  appMetrics: AppMetrics;
  verification: Verification;
}

export interface Verification {
  streams: number;
  checked: number;
  /** Streams whose chunks, downloaded and concatenated, hash as the file does. */
  identical: number;
  mismatches: string[];
}

export interface BacklogResult {
  files: number;
  distinct: number;
  totalBytes: number;
  parallel: number;
  /** How each contender started: from a cold page cache (and how it was made cold) or warm. */
  start: ReturnType<typeof startCold> | 'warm';
  disk: Contender;
  putLoop: Contender;
  rclone: Contender;
  app: AppBacklogRun;
  /** The app's wall time over each baseline's: 1.25 means 25% slower. */
  timeRatio: { disk: number; putLoop: number; rclone: number };
}

const MB = 1e6;
/** The app gets this long per GB before its run is declared stuck. */
const APP_SECONDS_PER_GB = 300;

export async function runBacklog(ctx: BenchContext): Promise<BacklogResult> {
  const { plan, stack } = ctx;
  const { files: count, distinct, fileBytes, parallel, cold } = plan.backlog;
  const files = await backlogFiles(count, distinct, fileBytes, ctx.log);
  const paths = files.map(({ file }) => file);
  let start: BacklogResult['start'] = 'warm';
  const coldStart = () => {
    if (cold) start = startCold(paths);
    else flushWrites();
  };

  ctx.log('backlog: reading the files (disk baseline)');
  coldStart();
  const disk = await baseline(ctx, () => readFiles(paths, parallel, plan.chunkSize));

  ctx.log('backlog: PutObject loop baseline');
  coldStart();
  const putLoop = await baseline(ctx, () =>
    putChunks(stack.minio, stack.bucket, 'baseline-put', paths, parallel, plan.chunkSize),
  );
  await emptyPrefix(stack.s3, stack.bucket, 'baseline-put');

  ctx.log('backlog: rclone copy baseline');
  const rcloneDir = path.join(ctx.workDir, 'rclone-source');
  linkInto(rcloneDir, files);
  coldStart();
  const rclone = await baseline(ctx, () =>
    rcloneCopy(stack.minio, stack.bucket, 'baseline-rclone', rcloneDir, paths, parallel),
  );
  await emptyPrefix(stack.s3, stack.bucket, 'baseline-rclone');
  fs.rmSync(rcloneDir, { recursive: true, force: true });

  ctx.log('backlog: the app');
  const app = await runAppBacklog(ctx, files, 1, 'backlog');
  const ratio = (baseline: Contender) => round(app.seconds / baseline.seconds, 2);
  return {
    files: count,
    distinct,
    totalBytes: disk.bytes,
    parallel,
    start,
    disk,
    putLoop,
    rclone,
    app,
    timeRatio: { disk: ratio(disk), putLoop: ratio(putLoop), rclone: ratio(rclone) },
  };
}

function contender(timed: Timed, cpuSeconds: { client: number; minio?: number; temporal?: number }): Contender {
  const perGb = (seconds = 0) => round(seconds / (timed.bytes / 1e9), 2);
  return {
    ...timed,
    seconds: round(timed.seconds, 2),
    mbPerSecond: round(timed.bytes / MB / timed.seconds, 1),
    cpuSecondsPerGb: {
      client: perGb(cpuSeconds.client),
      minio: perGb(cpuSeconds.minio),
      temporal: perGb(cpuSeconds.temporal),
    },
  };
}

/** A baseline run by the bench process itself (or its rclone child), with its CPU time and MinIO's. */
async function baseline(ctx: BenchContext, run: () => Promise<Timed>): Promise<Contender> {
  const cpuBefore = selfCpuSeconds();
  const host = meterHost(ctx.servers);
  const timed = await run();
  const { serverCpuSeconds } = host.stop();
  return contender(timed, {
    client: selfCpuSeconds() - cpuBefore,
    minio: serverCpuSeconds.minio,
    temporal: serverCpuSeconds.temporal,
  });
}

/**
 * The app's run over the backlog with `processes` app processes, each watching its own directory
 * with its share of the files, against the one Temporal server. Also used by the scale-out section.
 */
export async function runAppBacklog(
  ctx: BenchContext,
  files: CachedFile[],
  processes: number,
  name: string,
  layout: AppLayout = 'all-in-one',
): Promise<AppBacklogRun> {
  const { plan, stack } = ctx;
  const idleTimeoutMs = plan.backlog.idleTimeoutMs;
  // With HOST_ID, the processes share the workflows' task queue and each reads its own files on a
  // queue of its host; an app without it gets one queue per process, each process its own streams.
  const hostQueues = (processes > 1 || layout === 'edges') && appReadsEnv(ctx.appDir, 'HOST_ID');
  if (layout === 'edges' && !hostQueues) throw new Error('the app under test has no HOST_ID, hence no edge role');
  const queues = processes === 1 && layout === 'all-in-one' ? 'single' : hostQueues ? 'host-queues' : 'separate';
  // The workflow process's own directory: it watches nothing, but its log is named after it.
  const workflowsDir = path.join(ctx.workDir, `${name}-workflows`);
  const runs: AppRun[] = Array.from({ length: processes }, (_, p) => ({
    watchDir: path.join(ctx.workDir, `${name}-watch-${p}`),
    prefix: name,
    taskQueue: hostQueues || processes === 1 ? `bench-${name}` : `bench-${name}-${p}`,
    idleTimeoutMs,
    env: hostQueues ? { HOST_ID: `bench-host-${p}`, ...(layout === 'edges' && { ROLE: 'edge' }) } : undefined,
  }));
  const apps: RunningApp[] = [];
  try {
    // Started first: an edge has no workflow worker of its own.
    if (layout === 'edges') {
      fs.mkdirSync(workflowsDir, { recursive: true });
      apps.push(await startAppUnderTest(ctx, { ...runs[0], watchDir: workflowsDir, env: { ROLE: 'workflow' } }));
    }
    for (const run of runs) {
      fs.mkdirSync(run.watchDir, { recursive: true });
      apps.push(await startAppUnderTest(ctx, run));
    }
    if (plan.backlog.cold) startCold(files.map(({ file }) => file));
    else flushWrites();
    const shares = runs.map((_, p) => files.filter((_, i) => i % processes === p));
    const meter = meterProcesses(apps.map((app) => app.pid));
    const hostMeter = meterHost(ctx.servers);
    const started = Date.now();
    // A subdirectory named after the run makes each stream's path, hence its workflow id, unique
    // to this run, although the files are links to the same cached inodes in every run.
    const targets: Array<StreamTarget & { sha256: string }> = runs.flatMap((run, p) =>
      linkInto(path.join(run.watchDir, name), shares[p]).map((file, i) => ({
        ...streamTarget(run.watchDir, file, name),
        sha256: shares[p][i].sha256,
      })),
    );
    const totalBytes = targets.reduce((sum, target) => sum + target.bytes, 0);
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${name}: the app did not finish within its time limit`)),
        Math.max(120, (APP_SECONDS_PER_GB * totalBytes) / 1e9) * 1000,
      ).unref(),
    );
    const abort = Promise.race([timeout, ...apps.map((app) => app.crashed)]);
    const done = await Promise.all(
      targets.map((target) => closedWithManifest(stack.client, stack.s3, stack.bucket, target, abort)),
    );
    const seconds = (Math.max(...done.map(({ seenAt }) => seenAt)) - started) / 1000;
    const usage = meter.stop();
    const host = hostMeter.stop();
    const appMetrics = await scrapeAppMetrics(apps);
    for (const app of apps.splice(0)) await app.stop();

    const chunks = done.reduce((sum, { manifest }) => sum + manifest.chunkCount, 0);
    const history = await historyCost(
      stack.client,
      targets.map(({ workflowId }) => workflowId),
      chunks,
      started,
    );
    const verification = await verify(
      ctx,
      targets,
      done.map(({ manifest }) => manifest),
    );
    await emptyPrefix(stack.s3, stack.bucket, name);
    return {
      ...contender(
        {
          seconds,
          bytes: totalBytes,
          how: `the app, ${processes} ${layout === 'edges' ? 'edge process(es) and a workflow process' : 'process(es)'}, STREAM_IDLE_TIMEOUT=${idleTimeoutMs}ms`,
        },
        { client: usage.cpuSeconds, minio: host.serverCpuSeconds.minio, temporal: host.serverCpuSeconds.temporal },
      ),
      processes,
      layout,
      queues,
      idleTimeoutMs,
      cost: appCost(usage, host, totalBytes, history),
      appMetrics,
      verification,
    };
  } finally {
    for (const app of apps) await app.stop();
    for (const dir of [...runs.map((run) => run.watchDir), workflowsDir])
      fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Downloads the chunks of `plan.backlog.verify` streams (spread over the set) and compares their
 * hash with the file's. The manifest is read as the app under test wrote it (any version), and
 * only its chunk list is used.
 */
async function verify(
  ctx: BenchContext,
  targets: Array<StreamTarget & { sha256: string }>,
  manifests: ManifestView[],
): Promise<Verification> {
  const step = Math.max(1, targets.length / Math.max(1, ctx.plan.backlog.verify));
  const picked = new Set(
    Array.from({ length: Math.min(targets.length, ctx.plan.backlog.verify) }, (_, i) => Math.floor(i * step)),
  );
  const mismatches: string[] = [];
  for (const i of picked) {
    const sha256 = await downloadStreamSha256(ctx.stack.s3, ctx.stack.bucket, manifests[i]);
    if (sha256 !== targets[i].sha256) mismatches.push(targets[i].relPath);
  }
  return { streams: targets.length, checked: picked.size, identical: picked.size - mismatches.length, mismatches };
}
