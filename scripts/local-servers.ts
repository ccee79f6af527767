import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';

/**
 * Real servers on loopback for the tests and for the no-Docker local mode, installed into .tools/
 * by scripts/install-tools.sh: how they are found, started and supervised, and the Temporal CLI's
 * dev server. The S3 servers are in s3-servers.ts.
 */

export const TOOLS_BIN = path.resolve(__dirname, '..', '.tools', 'bin');
const INSTALL_HINT = 'run `npm run setup` (scripts/install-tools.sh) to install it';

export function toolPath(
  name:
    | 'temporal'
    | 'minio'
    | 'mc'
    | 'hadolint'
    | 'temporal-server'
    | 'temporal-sql-tool'
    | 'moto_server'
    | 'prometheus'
    | 'promtool'
    | 's3proxy.jar',
): string {
  const file = path.join(TOOLS_BIN, name);
  if (!fs.existsSync(file)) throw new Error(`${name} not found at ${file}: ${INSTALL_HINT}`);
  return file;
}

export function requireCommand(name: 'ffmpeg' | 'ffprobe' | 'docker-compose' | 'java'): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error(`${name} is not on PATH: ${INSTALL_HINT}`);
  return found;
}

/**
 * A loopback port free now, for a server about to start on it. It is drawn at random below the
 * kernel's ephemeral range: a port that `listen(0)` gives comes from that range, where every
 * outgoing connection and every other process's `listen(0)` also draw theirs, and one of them can
 * take it before the server binds it.
 */
export async function freePort(): Promise<number> {
  const low = 15000;
  const high = ephemeralFloor();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await listens(port)) return port;
  }
  throw new Error(`no free loopback port found between ${low} and ${high}`);
}

/**
 * For a port nobody reads (the app's or the Temporal SDK's /metrics in a test that does not scrape
 * it): the kernel picks it as the server binds, so no other process can take it first, as one
 * picked by `freePort` can be.
 */
export const ANY_PORT = '0';

/** Linux's first ephemeral port; 32768, its default, elsewhere. */
function ephemeralFloor(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

/** True when a server could listen on the loopback port now (it is closed again at once). */
function listens(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export interface RunningServer {
  stop(): Promise<void>;
}

export interface TemporalServer extends RunningServer {
  address: string;
  uiUrl: string;
  namespace: string;
  port: number;
  uiPort: number;
  /**
   * Stops the server, leaves it down for `downForMs`, and starts it again on the same ports. Its
   * workflows survive only when it was started with a `dbFile`.
   */
  restart(downForMs?: number): Promise<void>;
}

// Servers must not outlive a test that crashed or forgot stop(): they are unref'd below so they never
// keep this process alive, and killed when it exits.
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export interface Supervised {
  child: ChildProcess;
  /** What the server said on stderr, its start and its end (a Go panic's cause comes first, its stack after). */
  stderrExcerpt(): string;
  logFile: string;
  stop(): Promise<void>;
}

const EXCERPT_CHARS = 4096;

export function supervise(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Supervised {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(command, args, { env, stdio: ['ignore', log, 'pipe'] });
  fs.closeSync(log);
  children.add(child);
  child.unref();
  let head = '';
  let tail = '';
  let length = 0;
  const stderr = child.stderr as net.Socket;
  stderr.unref();
  stderr.on('data', (data: Buffer) => {
    fs.appendFileSync(logFile, data);
    const text = data.toString();
    length += text.length;
    if (head.length < EXCERPT_CHARS) head += text.slice(0, EXCERPT_CHARS - head.length);
    tail = (tail + text).slice(-EXCERPT_CHARS);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    logFile,
    stderrExcerpt: () =>
      length <= 2 * EXCERPT_CHARS ? head + tail.slice(head.length - length + tail.length) : `${head}\n…\n${tail}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
}

export async function waitUntil(
  what: string,
  server: Supervised,
  ready: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { exitCode, signalCode } = server.child;
    if (exitCode !== null || signalCode !== null)
      throw new Error(
        `${what} exited with ${exitCode ?? signalCode} (log: ${server.logFile}): ${server.stderrExcerpt()}`,
      );
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(
        `${what} did not become ready within ${timeoutMs} ms (log: ${server.logFile}): ${server.stderrExcerpt()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A free port is picked, then bound by the server a moment later: another process may take it in
 * between (tests and benchmarks run side by side). Such a start is tried again on new ports.
 */
export async function retryPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts || !/already in use/i.test((err as Error).message)) throw err;
    }
  }
}

export function scratchDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `stream-uploader-${name}-`));
}

type TemporalOptions = {
  port?: number;
  uiPort?: number;
  dbFile?: string;
  logFile?: string;
  namespace?: string;
  headless?: boolean;
};

export async function startTemporal(opts: TemporalOptions = {}): Promise<TemporalServer> {
  return retryPortClash(() => startTemporalOnce(opts));
}

async function startTemporalOnce(opts: TemporalOptions): Promise<TemporalServer> {
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort ?? (await freePort());
  const namespace = opts.namespace ?? 'default';
  const scratch = scratchDir('temporal');
  const address = `127.0.0.1:${port}`;
  const logFile = opts.logFile ?? path.join(scratch, 'temporal.log');

  async function launch(): Promise<Supervised> {
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort)];
    args.push(
      '--http-port',
      String(await freePort()),
      '--metrics-port',
      String(await freePort()),
      '--log-level',
      'warn',
      '--namespace',
      namespace,
      // As the compose's dynamic config: ids over 255 bytes are refused, as many deployments do.
      '--dynamic-config-value',
      'limit.maxIDLength=255',
    );
    if (opts.dbFile) args.push('--db-filename', opts.dbFile);
    if (opts.headless ?? true) args.push('--headless');
    const server = supervise(toolPath('temporal'), args, process.env, logFile);
    await waitUntil('temporal server', server, async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return true;
      } finally {
        await connection.close();
      }
    });
    return server;
  }
  let server = await launch().catch((err: Error) => {
    fs.rmSync(scratch, { recursive: true, force: true });
    throw err;
  });
  return {
    address,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    namespace,
    port,
    uiPort,
    async restart(downForMs = 0) {
      await server.stop();
      await sleep(downForMs);
      server = await launch();
    },
    async stop() {
      await server.stop();
      fs.rmSync(scratch, { recursive: true, force: true });
    },
  };
}
