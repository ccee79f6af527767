import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { APP_MALLOC_ENV, APP_NODE_FLAGS } from '../../src/process-memory';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/** The app (`src/main.ts`) as a child process, as an operator runs it, with its JSON logs parsed. */
export interface AppProcess {
  child: ChildProcess;
  logs: LogLine[];
  /** Lines on stdout that were not JSON: the contract says there are none. */
  strayLines: string[];
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const ROOT = path.resolve(__dirname, '..', '..');

/** Where an unprivileged app runs: `nobody`, whom file modes bind (root ignores `chmod 000`). */
const UNPRIVILEGED = { uid: 65534, gid: 65534 };

export interface AppOptions {
  /**
   * Runs the app as an unprivileged user when this process is root, so that file permissions
   * apply to it; the directories it watches must then be readable by others.
   */
  unprivileged?: boolean;
  /** The checkout whose app runs: this one by default, an earlier release's worktree for an upgrade. */
  root?: string;
}

/** `logFile` keeps the app's stdout and stderr for a look after a failure. */
export function startApp(env: Record<string, string>, logFile?: string, opts: AppOptions = {}): AppProcess {
  const dropRoot = opts.unprivileged && process.getuid?.() === 0;
  const root = opts.root ?? ROOT;
  const child = spawn(process.execPath, [...APP_NODE_FLAGS, '--import', 'tsx', path.join(root, 'src', 'main.ts')], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: dropRoot ? os.tmpdir() : process.env.HOME, ...APP_MALLOC_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(dropRoot ? UNPRIVILEGED : {}),
  });
  const logs: LogLine[] = [];
  const strayLines: string[] = [];
  const waiters = new Set<() => void>();
  const log = logFile ? fs.createWriteStream(logFile, { flags: 'a' }) : null;
  child.stderr!.on('data', (data: Buffer) => log?.write(data));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    log?.write(`${line}\n`);
    try {
      logs.push(JSON.parse(line) as LogLine);
    } catch {
      strayLines.push(line);
    }
    for (const wake of waiters) wake();
  });
  let stderr = '';
  child.stderr!.on('data', (data: Buffer) => {
    stderr = (stderr + data.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  return {
    child,
    logs,
    strayLines,
    waitForLog(match, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = logs.find(match);
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`app exited; stderr: ${stderr}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
