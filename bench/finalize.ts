import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { requireCommand } from '../scripts/local-servers';
import { downloadStreamSha256 } from '../test/support/bucket';
import { sha256File } from '../test/support/media';
import { startAppUnderTest } from './app';
import { completeManifest, emptyPrefix, streamTarget } from './bucket-poll';
import type { BenchContext } from './context';
import { round } from './cost';
import { backlogFiles, CACHE_DIR } from './fixtures';

/**
 * Finalize: does completing a stream take longer for a long recording? A writer replays a regular
 * MP4 the way ffmpeg records one (the `mdat` size left 0 until the recording stops, then patched
 * in chunk 0), fast, so that a long recording takes seconds; the figure is the time from its last
 * write (the patch) to the complete manifest seen, minus the idle timeout, per size. The bucket's
 * copy is checked byte for byte against the file.
 */

export interface FinalizeRun {
  bytes: number;
  /** Seconds from the last write to the complete manifest seen, minus the idle timeout. */
  latency: number;
  identical: boolean;
}

export interface FinalizeResults {
  idleTimeoutMs: number;
  writeMbPerSecond: number;
  runs: FinalizeRun[];
  /** The longest recording's latency minus the shortest's, seconds. */
  growth: number;
}

/** Where ffmpeg's regular MP4 keeps the `mdat` size it patches at the end (after `ftyp` and `free`). */
const MDAT_SIZE_OFFSET = 40;
const WRITE_BYTES = 4 * 2 ** 20;
const POLL_MS = 50;

export async function runFinalize(ctx: BenchContext): Promise<FinalizeResults> {
  const { sizes, idleTimeoutMs, writeMbPerSecond } = ctx.plan.finalize;
  const runs: FinalizeRun[] = [];
  for (const bytes of sizes) {
    const source = await recordingOfAbout(ctx, bytes);
    ctx.log(`finalize: ${(fs.statSync(source).size / 1e6).toFixed(0)} MB recording`);
    runs.push(await measure(ctx, source, idleTimeoutMs, writeMbPerSecond));
  }
  return { idleTimeoutMs, writeMbPerSecond, runs, growth: round(runs[runs.length - 1].latency - runs[0].latency, 3) };
}

async function measure(
  ctx: BenchContext,
  source: string,
  idleTimeoutMs: number,
  writeMbPerSecond: number,
): Promise<FinalizeRun> {
  const { s3, bucket } = ctx.stack;
  const name = `finalize-${fs.statSync(source).size}`;
  const watchDir = path.join(ctx.workDir, `${name}-watch`);
  fs.mkdirSync(watchDir, { recursive: true });
  const app = await startAppUnderTest(ctx, { watchDir, prefix: name, taskQueue: `bench-${name}`, idleTimeoutMs });
  try {
    const file = path.join(watchDir, 'recording.mp4');
    await replayAsRecorded(source, file, writeMbPerSecond);
    const lastWriteAt = fs.statSync(file).mtimeMs;
    const target = { ...streamTarget(watchDir, file, name), bytes: fs.statSync(file).size };
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${name}: no complete manifest`)), idleTimeoutMs + 300_000).unref(),
    );
    const { manifest, seenAt } = await completeManifest(s3, bucket, target, {
      intervalMs: POLL_MS,
      abort: Promise.race([timeout, app.crashed]),
    });
    const identical = (await downloadStreamSha256(s3, bucket, manifest)) === (await sha256File(file));
    await emptyPrefix(s3, bucket, name);
    return { bytes: target.bytes, latency: round((seenAt - lastWriteAt - idleTimeoutMs) / 1000, 3), identical };
  } finally {
    await app.stop();
    fs.rmSync(watchDir, { recursive: true, force: true });
  }
}

/**
 * Writes `source` to `file` at about `mbPerSecond`, as ffmpeg records a regular MP4: the `mdat`
 * size stays 0 while recording, and the last write patches it.
 */
async function replayAsRecorded(source: string, file: string, mbPerSecond: number): Promise<void> {
  const input = await fs.promises.open(source, 'r');
  const output = await fs.promises.open(file, 'w');
  try {
    const { size } = await input.stat();
    const buffer = Buffer.allocUnsafe(WRITE_BYTES);
    const started = performance.now();
    for (let offset = 0; offset < size;) {
      const { bytesRead } = await input.read(buffer, 0, Math.min(WRITE_BYTES, size - offset), offset);
      if (offset === 0) buffer.fill(0, MDAT_SIZE_OFFSET, MDAT_SIZE_OFFSET + 4);
      await output.write(buffer, 0, bytesRead, offset);
      offset += bytesRead;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, started + offset / (mbPerSecond * 1e3) - performance.now())),
      );
    }
    const header = Buffer.alloc(4);
    await input.read(header, 0, 4, MDAT_SIZE_OFFSET);
    await output.write(header, 0, 4, MDAT_SIZE_OFFSET);
  } finally {
    await output.close();
    await input.close();
  }
}

/**
 * A regular MP4 of at least `bytes`: one of the backlog's recordings, or several of them joined
 * by ffmpeg without re-encoding (seconds, where encoding gigabytes takes many minutes). Cached.
 */
async function recordingOfAbout(ctx: BenchContext, bytes: number): Promise<string> {
  const piece = ctx.plan.backlog.fileBytes;
  const [recording] = await backlogFiles(1, 1, Math.min(bytes, piece), ctx.log);
  const copies = Math.ceil(bytes / fs.statSync(recording.file).size);
  if (copies <= 1) return recording.file;
  const joined = path.join(CACHE_DIR, `finalize-${copies}x${path.basename(path.dirname(recording.file))}.mp4`);
  if (fs.existsSync(joined)) return joined;
  const list = `${joined}.txt`;
  fs.writeFileSync(list, Array.from({ length: copies }, () => `file '${recording.file}'\n`).join(''));
  const partial = `${joined}.partial.mp4`;
  const ffmpeg = spawnSync(requireCommand('ffmpeg'), [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    list,
    '-c',
    'copy',
    partial,
  ]);
  fs.rmSync(list);
  if (ffmpeg.status !== 0) throw new Error(`ffmpeg could not join ${copies} recordings: ${ffmpeg.stderr.toString()}`);
  fs.renameSync(partial, joined);
  return joined;
}
