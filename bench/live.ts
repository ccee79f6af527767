import fs from 'node:fs';
import path from 'node:path';
import { chunkKey } from '../src/stream/object-keys';
import { scrapeAppMetrics, startAppUnderTest, type AppMetrics } from './app';
import {
  completeManifest,
  emptyPrefix,
  objectSeenAt,
  streamTarget,
  type CompleteManifest,
  type PollOptions,
  type StreamTarget,
} from './bucket-poll';
import type { BenchContext } from './context';
import { appCost, historyCost, round, type AppCost } from './cost';
import { flushWrites, liveSource } from './fixtures';
import { meterHost, meterProcesses } from './process-stats';

/**
 * Live: N recordings growing at once, each a writer that replays a recorded MP4 at its real-time
 * rate and notes when each chunk's last byte was written. Chunk lag is measured from that moment
 * to the chunk's object existing in the bucket; finalize latency from the last write to the
 * complete manifest, minus the idle timeout. Both are the bench's own observations, not the app's
 * metrics. The same runs give the app's cost at 1, 10 and 50 streams.
 */

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LiveRun {
  streams: number;
  seconds: number;
  /** The replayed recording's real bitrate (bytes over duration), megabits per second. */
  mbitPerSecondPerStream: number;
  /** --write-size: bytes per write; absent: what was due every 100 ms. */
  writeSize?: number;
  idleTimeoutMs: number;
  /** Seconds from a full chunk's last byte written to its object seen in S3 (HEAD every pollMs). */
  chunkLag: Percentiles;
  /** The same, to the chunk record's `uploadedAt` in the manifest (when the app began its PUT). */
  chunkLagToUploadedAt: Percentiles;
  /** Seconds from the last write to the complete manifest seen, minus the idle timeout. */
  finalizeLatency: Percentiles;
  pollMs: number;
  /** The app under test: all-in-one, or an edge with the workflows in a second process (its cost not counted). */
  layout?: 'all-in-one' | 'edge';
  cost: AppCost;
  appMetrics: AppMetrics;
}

/**
 * Without --write-size, a writer writes what is due every 100 ms: ten writes a second, each a
 * file event for the app. ffmpeg 5.1 writes an MP4 256 KiB at a time (strace: 35 writes in 12 s at
 * 6 Mbit/s). The lag measured is the app's, not the writer's.
 */
export const WRITE_INTERVAL_MS = 100;
const POLL_MS = 50;
/** A manifest cannot be final before the idle timeout has passed since the last write; polling starts a little earlier. */
const FINALIZE_POLL_LEAD_MS = 300;

export async function runLive(ctx: BenchContext, streams: number): Promise<LiveRun> {
  const { plan, stack } = ctx;
  const { seconds, bitrate, idleTimeoutMs, writeSize } = plan.live;
  const source = await liveSource(seconds, bitrate);
  const sourceBytes = fs.statSync(source).size;
  const bytesPerMs = sourceBytes / (seconds * 1000);
  const name = `live-${streams}`;
  const watchDir = path.join(ctx.workDir, `${name}-watch`);
  fs.mkdirSync(path.join(watchDir, name), { recursive: true });
  const run = { watchDir, prefix: name, taskQueue: `bench-${name}`, idleTimeoutMs };
  // Started first: an edge has no workflow worker of its own.
  const workflows = plan.live.workflowsApart
    ? await startAppUnderTest(ctx, { ...run, env: { ROLE: 'workflow' } })
    : null;
  const app = await startAppUnderTest(ctx, { ...run, env: workflows ? { ROLE: 'edge' } : undefined });
  try {
    const chunkPeriodMs = plan.chunkSize / bytesPerMs;
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${name}: streams not finished in time`)),
        seconds * 1000 + chunkPeriodMs + idleTimeoutMs + 180_000,
      ).unref(),
    );
    const poll: PollOptions = { intervalMs: POLL_MS, abort: Promise.race([timeout, app.crashed]) };
    flushWrites();
    const meter = meterProcesses([app.pid]);
    const hostMeter = meterHost(ctx.servers);
    // Starts spread over one chunk period, as independent cameras are: chunk boundaries of all
    // streams at the same instant would measure a burst, not the steady state.
    const stagger = Math.min(chunkPeriodMs, seconds * 1000) / streams;
    const results = await Promise.all(
      Array.from({ length: streams }, (_, i) =>
        measureStream(ctx, path.join(watchDir, name, `cam-${String(i).padStart(2, '0')}.mp4`), {
          source,
          sourceBytes,
          seconds,
          startDelayMs: i * stagger,
          writeSize,
          watchDir,
          prefix: name,
          poll,
        }),
      ),
    );
    const usage = meter.stop();
    const host = hostMeter.stop();
    const appMetrics = await scrapeAppMetrics([app]);
    await app.stop();
    await workflows?.stop();

    const bytes = results.reduce((sum, r) => sum + r.target.bytes, 0);
    const chunks = results.reduce((sum, r) => sum + r.final.manifest.chunkCount, 0);
    const history = await historyCost(
      stack.client,
      results.map((r) => r.target.workflowId),
      chunks,
    );
    await emptyPrefix(stack.s3, stack.bucket, name);
    return {
      streams,
      seconds,
      mbitPerSecondPerStream: round((sourceBytes * 8) / 1e6 / seconds, 2),
      ...(writeSize !== undefined && { writeSize }),
      idleTimeoutMs,
      chunkLag: percentiles(results.flatMap((r) => r.lags)),
      chunkLagToUploadedAt: percentiles(
        results.flatMap((r) =>
          r.chunkDoneAt.map((doneAt, index) => (Date.parse(r.final.manifest.chunks[index].uploadedAt) - doneAt) / 1000),
        ),
      ),
      finalizeLatency: percentiles(results.map((r) => (r.final.seenAt - r.lastWriteAt - idleTimeoutMs) / 1000)),
      pollMs: POLL_MS,
      layout: workflows ? 'edge' : 'all-in-one',
      cost: appCost(usage, host, bytes, history),
      appMetrics,
    };
  } finally {
    await app.stop();
    await workflows?.stop();
    fs.rmSync(watchDir, { recursive: true, force: true });
  }
}

interface StreamMeasurement {
  target: StreamTarget;
  /** When the last byte of each full chunk was written (ms since the epoch), by index. */
  chunkDoneAt: number[];
  /** Chunk lags in seconds, as seen in the bucket. */
  lags: number[];
  lastWriteAt: number;
  final: CompleteManifest;
}

interface StreamPlan {
  source: string;
  sourceBytes: number;
  seconds: number;
  startDelayMs: number;
  /** Write this many bytes at a time, as soon as they are due; absent: what is due every WRITE_INTERVAL_MS. */
  writeSize?: number;
  watchDir: string;
  prefix: string;
  poll: PollOptions;
}

async function measureStream(ctx: BenchContext, file: string, plan: StreamPlan): Promise<StreamMeasurement> {
  const { s3, bucket } = ctx.stack;
  const { chunkSize } = ctx.plan;
  await new Promise((resolve) => setTimeout(resolve, plan.startDelayMs));
  const output = await fs.promises.open(file, 'w');
  const input = await fs.promises.open(plan.source, 'r');
  const target = { ...streamTarget(plan.watchDir, file, plan.prefix), bytes: plan.sourceBytes };
  const chunkDoneAt: number[] = [];
  const lagPolls: Array<Promise<number>> = [];
  let lastWriteAt = Date.now();
  try {
    const started = performance.now();
    const duration = plan.seconds * 1000;
    const { writeSize } = plan;
    // Paced by the clock, not by the previous write, so a slow write is caught up, not carried over.
    const nextWriteAt = (written: number, tick: number) =>
      writeSize === undefined
        ? started + tick * WRITE_INTERVAL_MS
        : started + (Math.min(plan.sourceBytes, written + writeSize) * duration) / plan.sourceBytes;
    for (let written = 0, tick = 1; written < plan.sourceBytes; tick++) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextWriteAt(written, tick) - performance.now())));
      let due = Math.min(plan.sourceBytes, Math.round((plan.sourceBytes * (performance.now() - started)) / duration));
      if (writeSize !== undefined && due < plan.sourceBytes)
        due = written + Math.floor((due - written) / writeSize) * writeSize;
      if (due <= written) continue;
      const bytes = Buffer.allocUnsafe(due - written);
      await input.read(bytes, 0, bytes.length, written);
      await output.write(bytes, 0, bytes.length, written);
      written = due;
      lastWriteAt = Date.now();
      while ((chunkDoneAt.length + 1) * chunkSize <= written) {
        const index = chunkDoneAt.length;
        const doneAt = lastWriteAt;
        chunkDoneAt.push(doneAt);
        lagPolls.push(
          objectSeenAt(s3, bucket, chunkKey(target.prefix, index), plan.poll).then(
            (seenAt) => (seenAt - doneAt) / 1000,
          ),
        );
      }
    }
  } finally {
    await output.close();
    await input.close();
  }
  // The mtime is what the app's idle timer goes by: the close may come a little after the last write.
  lastWriteAt = Math.max(lastWriteAt, Math.trunc(fs.statSync(file).mtimeMs));
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, lastWriteAt + ctx.plan.live.idleTimeoutMs - FINALIZE_POLL_LEAD_MS - Date.now())),
  );
  const [lags, final] = await Promise.all([Promise.all(lagPolls), completeManifest(s3, bucket, target, plan.poll)]);
  return { target, chunkDoneAt, lags, lastWriteAt, final };
}

/** Nearest-rank percentiles, in seconds to the millisecond. */
export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted.length === 0 ? 0 : round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)], 3);
  return { n: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: at(100) };
}
