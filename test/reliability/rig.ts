import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../scripts/local-servers';
import { startApp, type AppProcess, type LogLine } from '../support/app-process';
import { enableVersioning } from '../support/object-versions';
import { startStack, tempDir, type TestStack } from '../support/stack';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { auditBucket, expectStream, waitForStreams, type Audit, type Expectation, type ExpectedStream } from './audit';

/**
 * Small chunks and a short idle timeout: many chunk boundaries and stream ends in little time. The
 * timeout is long enough that a follow checks a quiet file's chunks (after half of it, at least
 * the 2 s an mtime takes to settle) before the stream ends, so faults hit that check too.
 */
export const CHUNK_SIZE = 256 * 1024;
export const IDLE_TIMEOUT_MS = 5000;
export const SHUTDOWN_GRACE_MS = 5000;

/** Log lines that mean a stream moved on: what "recovered" waits for after a fault. */
const PROGRESS = new Set(['chunk uploaded', 'chunk already in the bucket', 'manifest written']);

function isProgress(line: LogLine): boolean {
  return PROGRESS.has(String(line.msg));
}

export interface RigOptions {
  /** Names the scenario's directories and task queue. */
  name: string;
  /** App environment on top of the rig's. */
  env?: Record<string, string>;
  /** Run the app as an unprivileged user, so file modes bind it. */
  unprivileged?: boolean;
  /**
   * Keep Temporal's state in memory: faster for thousands of streams, but `stack.temporal.restart()`
   * then loses it, and no history is left to look at after a failure. By default it is kept in
   * `<dir>/temporal.sqlite` (`temporal server start-dev --db-filename` on a copy shows it).
   */
  inMemoryTemporal?: boolean;
  /** The app's idle timeout, if not `IDLE_TIMEOUT_MS`: the audit holds completions to it. */
  idleTimeoutMs?: number;
}

/**
 * One scenario's world: a real Temporal server (state in a SQLite file, so it can be restarted),
 * a real MinIO with versioning on (so every stored upload is counted), a TCP proxy between the
 * app and MinIO, a watched directory, and the app as a child process that can be killed and
 * restarted.
 */
export interface Rig {
  /** Scratch space outside the watched directory (staging, kept links, logs). */
  dir: string;
  watchDir: string;
  s3Prefix: string;
  /** The app's environment: what the CLI needs to reach the same servers. */
  env: Record<string, string>;
  stack: TestStack;
  proxy: TcpProxy;
  /** The app process started last. */
  app: AppProcess;
  /** App processes started so far. */
  runs: number;
  /** Starts the app (again), of this checkout or of `root`; does not wait for it to be up. */
  startApp(root?: string): AppProcess;
  /** Seconds from `sinceMs` to the current app's first progress line at or after it. */
  secondsToProgress(sinceMs: number, timeoutMs?: number): Promise<number>;
  /** Every run's log lines, in order. */
  logs(): LogLine[];
  /** Every run's stdout lines that were not JSON. */
  strayLines(): string[];
  /** The current app's /metrics, as Prometheus scrapes it. */
  metricsText(): Promise<string>;
  expect(relPath: string, expectation?: Expectation): ExpectedStream;
  /** Waits for every stream to end as expected (or `timeoutMs`), then audits the bucket. */
  settle(streams: ExpectedStream[], timeoutMs: number): Promise<Settled>;
  /** Stops everything; `keepFiles` leaves the files, the app's log and Temporal's state for a look. */
  stop(keepFiles: boolean): Promise<void>;
}

export interface Settled extends Audit {
  /** Streams that had not ended as expected when the wait ran out, with what each was at. */
  incomplete: Map<string, string>;
  /** When the wait ended. */
  settledAt: number;
}

export async function startRig(options: RigOptions): Promise<Rig> {
  const dir = tempDir(`reliability-${options.name}`);
  const watchDir = path.join(dir, 'watched');
  fs.mkdirSync(watchDir);
  // mkdtemp makes the scratch dir private; an unprivileged app must get through it.
  fs.chmodSync(dir, 0o755);
  const stack = await startStack({
    temporalDbFile: options.inMemoryTemporal ? undefined : path.join(dir, 'temporal.sqlite'),
  });
  await enableVersioning(stack.s3, stack.bucket);
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: stack.minio.port });
  const s3Prefix = 'reliability';
  const idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  const env = stack.env({
    S3_ENDPOINT: proxy.endpoint,
    WATCH_DIR: watchDir,
    CHUNK_SIZE: String(CHUNK_SIZE),
    STREAM_IDLE_TIMEOUT: `${idleTimeoutMs}ms`,
    WATCH_COALESCE_INTERVAL: '250ms',
    S3_PREFIX: s3Prefix,
    TEMPORAL_TASK_QUEUE: `reliability-${options.name}`,
    METRICS_PORT: String(await freePort()),
    TEMPORAL_METRICS_PORT: String(await freePort()),
    SHUTDOWN_GRACE_TIME: `${SHUTDOWN_GRACE_MS}ms`,
    LOG_LEVEL: 'info',
    ...options.env,
  });
  const logFile = path.join(dir, 'app.log');
  const apps: AppProcess[] = [];

  const rig: Rig = {
    dir,
    watchDir,
    s3Prefix,
    env,
    stack,
    proxy,
    app: undefined as unknown as AppProcess,
    runs: 0,
    startApp(root) {
      rig.app = startApp(env, logFile, { unprivileged: options.unprivileged, root });
      apps.push(rig.app);
      rig.runs++;
      return rig.app;
    },
    async secondsToProgress(sinceMs, timeoutMs = 180_000) {
      const line = await rig.app.waitForLog(
        (candidate) => isProgress(candidate) && Date.parse(String(candidate.time)) >= sinceMs,
        timeoutMs,
      );
      return (Date.parse(String(line.time)) - sinceMs) / 1000;
    },
    logs: () => apps.flatMap((app) => app.logs),
    strayLines: () => apps.flatMap((app) => app.strayLines),
    metricsText: async () => (await fetch(`http://127.0.0.1:${env.METRICS_PORT}/metrics`)).text(),
    expect: (relPath, expectation) => expectStream(watchDir, s3Prefix, relPath, expectation),
    async settle(streams, timeoutMs) {
      const incomplete = await waitForStreams(stack.s3, stack.bucket, streams, timeoutMs);
      const settledAt = Date.now();
      const audit = await auditBucket(stack.s3, stack.bucket, s3Prefix, streams, idleTimeoutMs);
      for (const [relPath, reason] of incomplete)
        audit.problems.push(`${relPath}: did not end as expected within ${timeoutMs / 1000} s (${reason})`);
      return { ...audit, incomplete, settledAt };
    },
    async stop(keepFiles) {
      await Promise.all(apps.map((app) => app.stop('SIGKILL')));
      await proxy.close();
      await stack.stop();
      if (!keepFiles) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}
