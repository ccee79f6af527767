import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { ANY_PORT, freePort } from '../scripts/local-servers';
import type { BenchContext } from './context';

/**
 * The app under test, started as the tests start it (`node --import tsx src/main.ts`) or, with
 * `--built`, as `npm start` does (`node dist/main.js`), from any checkout (`--app-dir`), so that one
 * benchmark script measures "before" and "after" versions of the product.
 * test/support/app-process.ts always runs this checkout's app, hence this launcher.
 */
export interface RunningApp {
  pid: number;
  /** The app's Prometheus endpoint. */
  metricsUrl: string;
  /** Rejects when the app exits before `stop()`: a crashed app must fail its section, not hang it. */
  crashed: Promise<never>;
  stop(): Promise<void>;
}

export interface AppRun {
  watchDir: string;
  /** S3_PREFIX: each contender and run writes under its own. */
  prefix: string;
  taskQueue: string;
  idleTimeoutMs: number;
  /** More variables, e.g. HOST_ID. */
  env?: Record<string, string>;
}

/** Logged once the app serves, after its watcher (if it has one) is ready: by every version and every role. */
const READY_MESSAGE = 'stream-uploader started';
const START_TIMEOUT_MS = 120_000;

export async function startAppUnderTest(ctx: BenchContext, run: AppRun): Promise<RunningApp> {
  const metricsPort = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...ctx.stack.env({
      WATCH_DIR: run.watchDir,
      CHUNK_SIZE: String(ctx.plan.chunkSize),
      STREAM_IDLE_TIMEOUT: `${run.idleTimeoutMs}ms`,
      S3_PREFIX: run.prefix,
      TEMPORAL_TASK_QUEUE: run.taskQueue,
      METRICS_PORT: String(metricsPort),
      TEMPORAL_METRICS_PORT: ANY_PORT,
      SHUTDOWN_GRACE_TIME: '5s',
      LOG_LEVEL: 'info',
    }),
    ...ctx.appEnv,
    ...run.env,
  };
  const logFile = path.join(ctx.workDir, `app-${path.basename(run.watchDir)}.log`);
  const log = fs.createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, ctx.appCommand, { cwd: ctx.appDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(log, { end: false });
  let stopping = false;
  // 'close', not 'exit': the log is ended only once the app's stdout and stderr are drained.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const crashed = new Promise<never>((_, reject) =>
    child.once('close', (code, signal) => {
      if (!stopping) reject(new Error(`the app exited unexpectedly (${code ?? signal}); its log: ${logFile}`));
    }),
  );
  crashed.catch(() => undefined); // observed by whoever races it; never an unhandled rejection
  const ready = new Promise<void>((resolve) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      log.write(`${line}\n`);
      if (line.includes(`"msg":"${READY_MESSAGE}"`)) resolve();
    });
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`the app did not start within ${START_TIMEOUT_MS} ms; its log: ${logFile}`)),
      START_TIMEOUT_MS,
    ).unref(),
  );
  try {
    await Promise.race([ready, crashed, timeout]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    pid: child.pid!,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    crashed,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await closed;
        clearTimeout(kill);
        log.end();
      })();
      return stopped;
    },
  };
}

/**
 * Whether the app reads an environment variable (its config lists every one), so the bench can
 * use a feature of the version under test when present, e.g. HOST_ID for host task queues.
 */
export function appReadsEnv(appDir: string, name: string): boolean {
  const config = path.join(appDir, 'src', 'config.ts');
  return fs.existsSync(config) && fs.readFileSync(config, 'utf8').includes(`'${name}'`);
}

/** Means of the app's own histograms, as a cross-check of the bench's figures; summed over processes. */
export interface AppMetrics {
  chunksUploaded: number;
  /** Mean seconds of one chunk upload inside the activity: read and hash, existence check, PUT. */
  chunkUploadSecondsMean: number;
  /** Mean chunk lag as the app measures it (from the mtime it was told of). */
  chunkLagSecondsMean: number;
  /** V8 heap in use and memory outside it (Buffers, native), MB, when the run ended: where the RSS is. */
  heapUsedMb: number;
  externalMb: number;
}

export async function scrapeAppMetrics(apps: RunningApp[]): Promise<AppMetrics> {
  let text = '';
  for (const app of apps) text += `${await (await fetch(app.metricsUrl)).text()}\n`;
  const total = (series: string) =>
    [...text.matchAll(new RegExp(`^${series} (\\S+)$`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
  const mean = (histogram: string) => total(`${histogram}_sum`) / Math.max(1, total(`${histogram}_count`));
  return {
    chunksUploaded: total('stream_uploader_chunks_uploaded_total'),
    chunkUploadSecondsMean: Math.round(mean('stream_uploader_chunk_upload_duration_seconds') * 1000) / 1000,
    chunkLagSecondsMean: Math.round(mean('stream_uploader_chunk_lag_seconds') * 1000) / 1000,
    heapUsedMb: Math.round(total('nodejs_heap_size_used_bytes') / 1e6),
    externalMb: Math.round(total('nodejs_external_memory_bytes') / 1e6),
  };
}
