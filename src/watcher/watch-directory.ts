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

/**
 * Reports every recording in `dir` once at start (so files written while the app was down are
 * picked up) and again on each change. Symlinks are not followed: a link could point anywhere.
 */
export function watchDirectory(dir: string, onFile: (event: FileEvent) => void, logger: AppLogger): DirectoryWatch {
  const watcher = chokidar.watch(dir, {
    followSymlinks: false,
    ignoreInitial: false,
    ignored: (absolute, stats) => {
      const relPath = toRelPath(dir, absolute);
      if (relPath === '') return false;
      if (relPath.split('/').some((part) => part.startsWith('.'))) return true;
      // Other directories must pass so that chokidar descends into them.
      return !!stats?.isFile() && !isRecordingPath(relPath);
    },
  });
  let initial = 0;
  let isReady = false;

  async function report(absolute: string): Promise<void> {
    const relPath = toRelPath(dir, absolute);
    if (!isRecordingPath(relPath)) return;
    try {
      const stats = await fs.lstat(absolute);
      if (!stats.isFile()) return;
      onFile({
        relPath,
        identity: { ino: stats.ino, birthtimeMs: Math.trunc(stats.birthtimeMs) },
        snapshot: { size: stats.size, mtimeMs: stats.mtimeMs },
      });
    } catch (err) {
      // Gone between the event and the stat: its workflow notices on its own.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err, relPath }, 'cannot stat file');
    }
  }

  watcher.on('add', (file) => {
    if (!isReady) initial++;
    void report(file);
  });
  watcher.on('change', (file) => void report(file));
  watcher.on('error', (err) => logger.error({ err }, 'watcher error'));
  const ready = new Promise<number>((resolve) =>
    watcher.once('ready', () => {
      isReady = true;
      resolve(initial);
    }),
  );
  return { ready, close: () => watcher.close() };
}

function toRelPath(dir: string, absolute: string): string {
  return path.relative(dir, absolute).split(path.sep).join('/');
}
