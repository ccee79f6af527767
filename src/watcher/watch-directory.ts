import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import chokidar from 'chokidar';
import type { AppLogger } from '../logger';
import type { FileIdentity, FileSnapshot } from '../stream/types';
import { isRecordingPath } from './file-filter';

/** A recording seen on disk. */
export interface FileEvent {
  relPath: string;
  identity: FileIdentity;
  snapshot: FileSnapshot;
}

export interface DirectoryWatch {
  /** Resolves once every file already in the directory has been reported. */
  ready: Promise<number>;
  close(): Promise<void>;
}

/** A new folder is scanned again this long after it appeared (files moved in while it was first read). */
const NEW_FOLDER_RESCAN_MS = 1_000;

/**
 * Reports every recording in `dir` once at start (so files written while the app was down are
 * picked up) and again on each change. Symlinks are not followed: a link could point anywhere.
 *
 * File events can be lost: files moved into a folder while it is first read, an overflowing
 * inotify queue when thousands of files arrive at once, writes on a network filesystem. So the
 * tree is also rescanned every `rescanIntervalMs` (and shortly after a new folder appears), and a
 * file whose size, mtime or identity changed since it was last reported is reported again.
 */
export function watchDirectory(
  dir: string,
  onFile: (event: FileEvent) => void,
  logger: AppLogger,
  rescanIntervalMs: number,
): DirectoryWatch {
  const watcher = chokidar.watch(dir, {
    followSymlinks: false,
    ignoreInitial: false,
    // Hidden folders are not descended into. Files are sorted out in `report`, with their real
    // path: chokidar gives this function paths with `\` turned into `/`, which on Linux renames
    // a file called `C:\rec\.cam1.mp4` into a hidden one.
    ignored: (absolute, stats) => !!stats?.isDirectory() && absolute !== dir && path.basename(absolute).startsWith('.'),
  });
  /** What was last reported of each path: a rescan reports only what changed since. */
  const reported = new Map<string, string>();
  const skippedLinks = new Set<string>();
  let initial = 0;
  let isReady = false;

  function report(absolute: string, stats: Stats): void {
    const relPath = toRelPath(dir, absolute);
    if (!isRecordingPath(relPath)) return;
    if (stats.isSymbolicLink()) {
      if (!skippedLinks.has(relPath)) logger.info({ relPath }, 'skipped a symbolic link: links are not followed');
      skippedLinks.add(relPath);
      return;
    }
    if (!stats.isFile()) return;
    const fingerprint = `${stats.ino}-${stats.birthtimeMs}-${stats.size}-${stats.mtimeMs}`;
    if (reported.get(relPath) === fingerprint) return;
    reported.set(relPath, fingerprint);
    onFile({
      relPath,
      identity: { ino: stats.ino, birthtimeMs: Math.trunc(stats.birthtimeMs) },
      snapshot: { size: stats.size, mtimeMs: stats.mtimeMs },
    });
  }

  async function stat(absolute: string): Promise<void> {
    try {
      report(absolute, await fs.lstat(absolute));
    } catch (err) {
      // Gone between the event and the stat: its workflow notices on its own.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        logger.warn({ err, relPath: toRelPath(dir, absolute) }, 'cannot stat file');
    }
  }

  let scanning: Promise<void> | null = null;
  function rescan(): Promise<void> {
    scanning ??= walk(dir, (absolute) => stat(absolute))
      .then((seen) => {
        for (const relPath of reported.keys()) if (!seen.has(relPath)) reported.delete(relPath);
      })
      .catch((err: unknown) => logger.warn({ err }, 'rescan of the watched directory failed'))
      .finally(() => (scanning = null));
    return scanning;
  }

  watcher.on('add', (file) => {
    if (!isReady && isRecordingPath(toRelPath(dir, file))) initial++;
    void stat(file);
  });
  watcher.on('change', (file) => void stat(file));
  let folderRescan: NodeJS.Timeout | undefined;
  watcher.on('addDir', () => {
    if (!isReady) return;
    clearTimeout(folderRescan);
    folderRescan = setTimeout(() => void rescan(), NEW_FOLDER_RESCAN_MS);
  });
  watcher.on('error', (err) => logger.error({ err }, 'watcher error'));
  const periodic = setInterval(() => void rescan(), rescanIntervalMs);
  const ready = new Promise<number>((resolve) =>
    watcher.once('ready', () => {
      isReady = true;
      resolve(initial);
    }),
  );
  return {
    ready,
    async close() {
      clearInterval(periodic);
      clearTimeout(folderRescan);
      await watcher.close();
      await scanning;
    },
  };
}

/**
 * Visits every file under `dir` (not following links, not entering hidden folders) and returns
 * the relative paths seen.
 */
async function walk(dir: string, visit: (absolute: string) => Promise<void>): Promise<Set<string>> {
  const seen = new Set<string>();
  const pending = [dir];
  for (let folder = pending.pop(); folder !== undefined; folder = pending.pop()) {
    const entries = await fs.readdir(folder, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const absolute = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.')) pending.push(absolute);
      } else {
        seen.add(toRelPath(dir, absolute));
        await visit(absolute);
      }
    }
  }
  return seen;
}

function toRelPath(dir: string, absolute: string): string {
  return path.relative(dir, absolute).split(path.sep).join('/');
}
