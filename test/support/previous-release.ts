import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
/** The code that running streams execute: a release that changes it is an upgrade for them. */
const WORKER_CODE = ['src/workflows', 'src/activities'];

const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();

/**
 * The release running streams upgrade from: the newest commit that changed the worker code and
 * whose worker code differs from this checkout's.
 */
export function previousRelease(): string {
  for (const commit of git('rev-list', 'HEAD', '--', ...WORKER_CODE).split('\n')) {
    try {
      execFileSync('git', ['diff', '--quiet', commit, '--', ...WORKER_CODE], { cwd: ROOT });
    } catch {
      return commit;
    }
  }
  throw new Error('no earlier release of the worker code in this checkout: clone with its history');
}

/**
 * Checks `commit` out into `dir` (a detached worktree), ready to run: the dependencies are this
 * checkout's when its package-lock.json is the same, else installed (`npm ci`).
 */
export function checkOutRelease(commit: string, dir: string): void {
  git('worktree', 'add', '--detach', '--force', dir, commit);
  const lock = (root: string) => fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8');
  if (lock(dir) === lock(ROOT)) fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  else execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, stdio: 'ignore' });
}

export function removeRelease(dir: string): void {
  git('worktree', 'remove', '--force', dir);
}
