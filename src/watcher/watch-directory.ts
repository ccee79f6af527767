import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import chokidar from 'chokidar';
import type { AppLogger } from '../logger';
import { fileIdentity } from '../stream/identity';
import type { FileIdentity, FileSnapshot } from '../stream/types';
import type { RecordingFilter } from './file-filter';
import { printable } from '../printable';
import { relativePath } from './relative-path';

/** A recording seen on disk. */
export interface FileEvent {
  relPath: string;
  identity: FileIdentity;
  snapshot: FileSnapshot;
}

/** Why a file the watcher saw is not uploaded. */
export type SkipReason = 'symlink' | 'name_not_utf8';

export interface WatchOptions {
  dir: string;
  onFile: (event: FileEvent) => void;
  /** Called once per path skipped, with the reason (it is logged too). */
  onSkipped?: (reason: SkipReason) => void;
  logger: AppLogger;
  rescanIntervalMs: number;
  /** WATCH_PATTERNS: which files are recordings. */
  isRecordingPath: RecordingFilter;
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
export function watchDirectory({
  dir,
  onFile,
  onSkipped,
  logger,
  rescanIntervalMs,
  isRecordingPath,
}: WatchOptions): DirectoryWatch {
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
  const skipped = new Set<string>();
  function skip(relPath: string, reason: SkipReason, message: string): void {
    if (skipped.has(relPath)) return;
    skipped.add(relPath);
    logger.warn({ relPath: printable(relPath), reason }, message);
    onSkipped?.(reason);
  }
  let initial = 0;
  let isReady = false;

  function report(absolute: string, stats: Stats): void {
    const relPath = relativePath(dir, absolute);
    if (!isRecordingPath(relPath)) return;
    if (stats.isSymbolicLink()) return skip(relPath, 'symlink', 'skipped a symbolic link: links are not followed');
    if (!stats.isFile()) return;
    const fingerprint = `${stats.ino}-${stats.birthtimeMs}-${stats.size}-${stats.mtimeMs}`;
    if (reported.get(relPath) === fingerprint) return;
    reported.set(relPath, fingerprint);
    onFile({
      relPath,
      identity: fileIdentity(stats),
      snapshot: { size: stats.size, mtimeMs: stats.mtimeMs },
    });
  }

  async function stat(absolute: string): Promise<void> {
    try {
      report(absolute, await fs.lstat(absolute));
    } catch (err) {
      const relPath = relativePath(dir, absolute);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err, relPath }, 'cannot stat file');
      // Node decodes names as UTF-8, with U+FFFD for bytes that are not: such a name cannot be
      // opened again by the string it was reported as. Otherwise the file went between the event
      // and the stat, and its workflow notices on its own.
      else if (relPath.includes('\uFFFD') && isRecordingPath(relPath))
        skip(relPath, 'name_not_utf8', 'skipped a file whose name is not valid UTF-8: rename it to upload it');
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
    if (!isReady && isRecordingPath(relativePath(dir, file))) initial++;
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
        seen.add(relativePath(dir, absolute));
        await visit(absolute);
      }
    }
  }
  return seen;
}
