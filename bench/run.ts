import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../src/config';
import type * as ProcessMemory from '../src/process-memory';
import { startStack } from '../test/support/stack';
import { runBacklog } from './backlog';
import { SECTIONS, type BenchContext, type BenchPlan, type Section } from './context';
import { runFinalize } from './finalize';
import { runLive } from './live';
import { writeReport, renderMarkdown, type BenchResults } from './report';
import { findProcess } from './process-stats';
import { runScaleOut } from './scale-out';

/**
 * `npm run bench -- [options]`: starts a Temporal dev server and MinIO on loopback, runs the app
 * under test and the baselines through each section, and writes bench/results/. See bench/README.md.
 */

const USAGE = `usage: npm run bench -- [--quick] [--label NAME] [--app-dir PATH] [--built] [--out DIR]
  [--sections backlog,live,scale-out,finalize] [--files N] [--distinct N] [--file-mb MB] [--parallel N]
  [--verify N] [--warm] [--live-streams 1,10,50] [--live-seconds S] [--bitrate 6M] [--write-size 256KiB]
  [--chunk-size 10MiB] [--app-env KEY=VALUE ...]`;

const QUICK: BenchPlan = {
  mode: 'quick',
  chunkSize: 1024 * 1024,
  sections: [...SECTIONS],
  backlog: { files: 4, distinct: 2, fileBytes: 5e6, parallel: 2, idleTimeoutMs: 1000, verify: 4, cold: true },
  live: { streamCounts: [1, 2], seconds: 8, bitrate: '4M', idleTimeoutMs: 1000 },
  finalize: { sizes: [2e6, 12e6], idleTimeoutMs: 1000, writeMbPerSecond: 20 },
};

const FULL: BenchPlan = {
  mode: 'full',
  chunkSize: 10 * 1024 * 1024,
  sections: [...SECTIONS],
  backlog: { files: 20, distinct: 4, fileBytes: 200e6, parallel: 4, idleTimeoutMs: 1000, verify: 20, cold: true },
  live: { streamCounts: [1, 10, 50], seconds: 180, bitrate: '6M', idleTimeoutMs: 5000 },
  finalize: { sizes: [20e6, 2e9], idleTimeoutMs: 10_000, writeMbPerSecond: 100 },
};

interface Invocation {
  plan: BenchPlan;
  label: string;
  appDir: string;
  built: boolean;
  outDir: string;
  appEnv: Record<string, string>;
}

function planFrom(argv: string[]): Invocation {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      label: { type: 'string' },
      'app-dir': { type: 'string' },
      built: { type: 'boolean' },
      out: { type: 'string' },
      sections: { type: 'string' },
      files: { type: 'string' },
      distinct: { type: 'string' },
      'file-mb': { type: 'string' },
      parallel: { type: 'string' },
      verify: { type: 'string' },
      warm: { type: 'boolean' },
      'workflows-apart': { type: 'boolean' },
      'live-streams': { type: 'string' },
      'live-seconds': { type: 'string' },
      bitrate: { type: 'string' },
      'write-size': { type: 'string' },
      'chunk-size': { type: 'string' },
      'app-env': { type: 'string', multiple: true },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const base = values.quick ? QUICK : FULL;
  const sizeOption = (name: string, text: string) => {
    let size: number;
    try {
      size = parseSize(text);
    } catch (err) {
      throw new Error(`--${name} ${text} ${(err as Error).message}`, { cause: err });
    }
    if (size <= 0) throw new Error(`--${name} must be a positive size, not "${text}"\n${USAGE}`);
    return size;
  };
  const count = (name: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not "${text}"\n${USAGE}`);
    return n;
  };
  const sections = values.sections?.split(',').map((s) => s.trim()) ?? base.sections;
  const unknown = sections.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`unknown section(s) ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}`);
  const files = Math.round(count('files', values.files, base.backlog.files));
  const plan: BenchPlan = {
    mode: base.mode,
    chunkSize: values['chunk-size'] ? sizeOption('chunk-size', values['chunk-size']) : base.chunkSize,
    sections: sections as Section[],
    backlog: {
      files,
      distinct: Math.min(files, Math.round(count('distinct', values.distinct, base.backlog.distinct))),
      fileBytes: Math.round(count('file-mb', values['file-mb'], base.backlog.fileBytes / 1e6) * 1e6),
      parallel: Math.round(count('parallel', values.parallel, base.backlog.parallel)),
      idleTimeoutMs: base.backlog.idleTimeoutMs,
      verify: Math.round(count('verify', values.verify, Math.min(files, base.backlog.verify))),
      cold: !values.warm,
    },
    live: {
      streamCounts:
        values['live-streams']?.split(',').map((n) => Math.round(count('live-streams', n, 1))) ??
        base.live.streamCounts,
      seconds: Math.round(count('live-seconds', values['live-seconds'], base.live.seconds)),
      bitrate: values.bitrate ?? base.live.bitrate,
      ...(values['write-size'] && { writeSize: sizeOption('write-size', values['write-size']) }),
      idleTimeoutMs: base.live.idleTimeoutMs,
      workflowsApart: values['workflows-apart'] ?? false,
    },
    finalize: base.finalize,
  };
  const appEnv = Object.fromEntries(
    (values['app-env'] ?? []).map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--app-env takes KEY=VALUE, not "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const label = values.label ?? new Date().toISOString().replace(/[:.]/g, '-');
  if (!/^[\w.-]+$/.test(label)) throw new Error(`--label may hold letters, digits, ".", "-" and "_" only`);
  return {
    plan,
    label,
    appDir: path.resolve(values['app-dir'] ?? path.join(__dirname, '..')),
    built: !!values.built,
    outDir: path.resolve(values.out ?? path.join(__dirname, 'results')),
    appEnv,
  };
}

function git(appDir: string, args: string[]): string | null {
  try {
    return execFileSync('git', ['-C', appDir, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/**
 * How node starts the app. Built, as `npm start` runs it, with the checkout's own compiler: the
 * compiled app holds less memory than one transpiled by tsx on the fly.
 */
function appCommand(
  appDir: string,
  built: boolean,
  nodeFlags: readonly string[],
  log: (message: string) => void,
): string[] {
  if (!fs.existsSync(path.join(appDir, 'src', 'main.ts'))) throw new Error(`--app-dir ${appDir} has no src/main.ts`);
  if (!built) return [...nodeFlags, '--import', 'tsx', path.join('src', 'main.ts')];
  log(`building ${appDir} (npm run build, as npm start does)`);
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: appDir, stdio: ['ignore', 'ignore', 'inherit'] });
  return [...nodeFlags, path.join('dist', 'main.js')];
}

type ShippedSettings = typeof ProcessMemory;

/**
 * The node flags and malloc settings the app under test ships with (its src/process-memory.ts;
 * before that module, src/node-flags.ts and no malloc settings), so that each version runs as it
 * does in production, and a baseline from another checkout runs with its own.
 */
async function shippedProcessSettings(
  appDir: string,
): Promise<{ nodeFlags: readonly string[]; env: Record<string, string> }> {
  const current = path.join(appDir, 'src', 'process-memory.ts');
  if (fs.existsSync(current)) {
    const shipped = (await import(current)) as ShippedSettings;
    return { nodeFlags: shipped.APP_NODE_FLAGS, env: { ...shipped.APP_MALLOC_ENV } };
  }
  const older = path.join(appDir, 'src', 'node-flags.ts');
  if (!fs.existsSync(older)) return { nodeFlags: [], env: {} };
  return { nodeFlags: ((await import(older)) as Pick<ShippedSettings, 'APP_NODE_FLAGS'>).APP_NODE_FLAGS, env: {} };
}

async function main(): Promise<void> {
  const { plan, label, appDir, built, outDir, appEnv: givenEnv } = planFrom(process.argv.slice(2));
  const began = Date.now();
  const log = (message: string) =>
    process.stderr.write(`[bench +${((Date.now() - began) / 1000).toFixed(0)}s] ${message}\n`);
  const shipped = await shippedProcessSettings(appDir);
  const command = appCommand(appDir, built, shipped.nodeFlags, log);
  const appEnv = { ...shipped.env, ...givenEnv };
  const status = git(appDir, ['status', '--porcelain', '--', 'src']);
  const results: BenchResults = {
    label,
    mode: plan.mode,
    startedAt: new Date().toISOString(),
    finishedAt: '',
    host: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGb: os.totalmem() / 1e9,
      node: process.version,
      loadAverageAtStart: os.loadavg(),
      loadAverageAtEnd: [],
    },
    app: {
      dir: appDir,
      commit: git(appDir, ['rev-parse', 'HEAD']),
      srcDirty: status === null ? null : status !== '',
      command: command.join(' '),
      env: appEnv,
    },
    plan,
    errors: [],
  };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stream-uploader-bench-'));
  log(`app under test: ${appDir}; scratch: ${workDir}`);
  const stack = await startStack();
  const servers = {
    temporal: findProcess(['start-dev', '--port', String(stack.temporal.port)]),
    minio: findProcess(['--address', `127.0.0.1:${stack.minio.port}`]),
  };
  const ctx: BenchContext = { plan, stack, appDir, appCommand: command, workDir, servers, appEnv, log };
  try {
    // One section failing (a crashed app, a stuck stream) is reported; the others still run.
    const attempt = async (section: Section, run: () => Promise<void>) => {
      if (!plan.sections.includes(section)) return;
      log(`section ${section}`);
      try {
        await run();
      } catch (err) {
        log(`section ${section} failed: ${(err as Error).stack ?? String(err)}`);
        results.errors.push({ section, message: (err as Error).message });
      }
    };
    await attempt('backlog', async () => {
      results.backlog = await runBacklog(ctx);
    });
    await attempt('live', async () => {
      results.live = [];
      for (const streams of plan.live.streamCounts) {
        log(`live: ${streams} stream(s) for ${plan.live.seconds} s`);
        results.live.push(await runLive(ctx, streams));
      }
    });
    await attempt('scale-out', async () => {
      results.scaleOut = await runScaleOut(ctx, results.backlog?.app);
    });
    await attempt('finalize', async () => {
      results.finalize = await runFinalize(ctx);
    });
  } finally {
    await stack.stop();
    // Kept after a failure: the app's logs are there.
    if (results.errors.length === 0) fs.rmSync(workDir, { recursive: true, force: true });
    else log(`app logs kept in ${workDir}`);
  }
  results.finishedAt = new Date().toISOString();
  results.host.loadAverageAtEnd = os.loadavg();
  const written = writeReport(results, outDir);
  process.stdout.write(renderMarkdown(results));
  log(`results: ${written.json}, ${written.markdown}`);
  if (results.errors.length > 0) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
