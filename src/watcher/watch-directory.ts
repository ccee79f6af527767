import { watch as fsWatch, type FSWatcher, type Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { AppLogger } from '../logger';
import { fileIdentity } from '../stream/identity';
import type { FileLook } from '../stream/types';
import type { RecordingFilter } from './file-filter';
import { printable } from '../printable';
import { relativePath } from './relative-path';

/** A recording seen on disk. */
export interface FileEvent extends FileLook {
  relPath: string;
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
  /**
   * Whether an activity of this process follows the file: the watcher then leaves it to the follow
   * until it ends (see `DirectoryWatch.followEnded`), and stops watching its folder (see
   * `READ_FOLDER_EVERY_MS`). The follow looks at the file itself, so the watcher's looks would
   * tell the stream nothing, and each costs a timer, an lstat and the wake-ups of two threads
   * (docs/performance.md, "Wake-ups").
   */
  isFollowed?: (relPath: string) => boolean;
}

export interface DirectoryWatch {
  /** Resolves once every file already in the directory has been reported. */
  ready: Promise<number>;
  /**
   * A follow of the file at `relPath` ended, having last seen it as `last`, which its result
   * tells the stream: that counts as reported. The file is looked at again if it may have changed
   * since (its folder was read instead of watched), and reported if it did.
   */
  followEnded(relPath: string, last?: FileLook): void;
  close(): Promise<void>;
}

/** A new folder is scanned again this long after it appeared (files moved in while it was first read). */
const NEW_FOLDER_RESCAN_MS = 1_000;

/**
 * A path is looked at (one lstat) at most once this often, and once more after its last event:
 * a recorder writing ten times a second costs a few stats a second, not ten, and its newest
 * state is still seen. The coalescer signals at most once per WATCH_COALESCE_INTERVAL anyway.
 */
export const LOOK_EVERY_MS = 250;

/**
 * A folder holding a file this process follows is not watched but read this often for new
 * entries (a stat, and a listing when its mtime moved). inotify reports every write to a watched
 * folder's files, and a follow's file is written several times a second: at 10 live streams those
 * events cost about 1 CPU s per GB recorded, and the watcher ignores them (docs/performance.md,
 * "Live CPU (session 16)"). A new file is then seen up to this late, and a change to one of the
 * folder's files that nobody follows only at the next rescan (`WATCH_RESCAN_INTERVAL`). The
 * folder is watched again once its last follow ends.
 */
export const READ_FOLDER_EVERY_MS = 1_000;

/**
 * Reports every recording in `dir` once at start (so files written while the app was down are
 * picked up) and again on each change. Symlinks are not followed: a link could point anywhere.
 *
 * Each folder has one inotify watch (`fs.watch`), none per file: a directory of thousands of kept
 * recordings costs nothing while they rest, and a write costs one event. (chokidar, used before,
 * watched every file as well and read its whole folder again on every write: two thirds of a
 * live stream's CPU: bench/results/live-cpu-before.md against live-cpu-watcher.md.)
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
  isFollowed = () => false,
}: WatchOptions): DirectoryWatch {
  /** What was last reported of each path: a rescan reports only what changed since. */
  const reported = new Map<string, string>();
  const skipped = new Set<string>();
  const folders = new Map<string, FSWatcher>();
  /** Folders read every READ_FOLDER_EVERY_MS instead of watched. */
  const readFolders = new Map<string, ReadFolder>();
  /** Paths looked at less than their look interval ago, and whether an event came since. */
  const recent = new Map<string, { timer: NodeJS.Timeout; changed: boolean }>();
  let closed = false;

  function skip(relPath: string, reason: SkipReason, message: string): void {
    if (skipped.has(relPath)) return;
    skipped.add(relPath);
    logger.warn({ relPath: printable(relPath), reason }, message);
    onSkipped?.(reason);
  }

  function report(absolute: string, stats: Stats): void {
    // A look still under way when the watch closed reports nothing: the app is stopping.
    if (closed) return;
    const relPath = relativePath(dir, absolute);
    if (!isRecordingPath(relPath)) return;
    if (stats.isSymbolicLink()) return skip(relPath, 'symlink', 'skipped a symbolic link: links are not followed');
    if (!stats.isFile()) return;
    const file = { identity: fileIdentity(stats), snapshot: { size: stats.size, mtimeMs: stats.mtimeMs } };
    const fingerprint = fingerprintOf(file);
    if (reported.get(relPath) === fingerprint) return;
    reported.set(relPath, fingerprint);
    onFile({ relPath, ...file });
  }

  function watchFolder(folder: string): void {
    if (closed || folders.has(folder) || readFolders.has(folder)) return;
    // Folders are normalized paths (WATCH_DIR resolved, then joined), so a concatenation is the
    // joined path: path.join would normalize the whole string again on every write of a recorder.
    const prefix = folder.endsWith(path.sep) ? folder : `${folder}${path.sep}`;
    try {
      const watch = fsWatch(folder, (_event, name) => {
        // Linux always names the entry; a platform that does not gets the folder read again.
        if (name === null) void walk(folder);
        else changed(`${prefix}${name}`);
      });
      watch.on('error', (err) => {
        unwatchFolder(folder);
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err }, 'cannot watch a folder any more');
      });
      folders.set(folder, watch);
    } catch (err) {
      // ENOSPC: the inotify watches are used up (fs.inotify.max_user_watches); rescans still
      // find the folder's files, up to WATCH_RESCAN_INTERVAL late.
      logger.warn({ err, relPath: printable(relativePath(dir, folder)) }, 'cannot watch a folder; rescans cover it');
    }
  }

  function unwatchFolder(folder: string): void {
    const inside = folder.endsWith(path.sep) ? folder : `${folder}${path.sep}`;
    const under = (other: string) => other === folder || other.startsWith(inside);
    for (const [watched, watch] of folders)
      if (under(watched)) {
        watch.close();
        folders.delete(watched);
      }
    for (const [read, { timer }] of readFolders)
      if (under(read)) {
        clearInterval(timer);
        readFolders.delete(read);
      }
  }

  /** Stops watching the folder of `absolute`, a followed file, and reads it for new entries instead. */
  function readFolderOf(absolute: string): void {
    const folder = path.dirname(absolute);
    const read = readFolders.get(folder);
    if (read) return void read.followed.add(absolute);
    const watch = folders.get(folder);
    if (!watch) return;
    watch.close();
    folders.delete(folder);
    const reading: ReadFolder = {
      timer: setInterval(() => void readNewEntries(folder, reading), READ_FOLDER_EVERY_MS),
      followed: new Set([absolute]),
    };
    readFolders.set(folder, reading);
  }

  /**
   * Reports the recordings and walks the folders in `folder` that the watcher has not seen. The
   * folder is listed only when its mtime says its entries may have changed: a folder of
   * thousands of kept recordings costs one stat a second, not a listing.
   */
  async function readNewEntries(folder: string, read: ReadFolder): Promise<void> {
    let entries;
    try {
      const { mtimeMs } = await fsp.stat(folder);
      if (mtimeMs === read.listedMtimeMs && !read.mtimeWasRecent) return;
      // The kernel stamps a folder's mtime from a clock that ticks every few milliseconds: an
      // entry added in the same tick as the listing, after it, leaves the mtime as it was.
      read.mtimeWasRecent = Date.now() - mtimeMs < READ_FOLDER_EVERY_MS;
      read.listedMtimeMs = mtimeMs;
      entries = await fsp.readdir(folder, { withFileTypes: true });
    } catch (err) {
      // The next rescan watches the folder again if it is still there, as for a watch that failed.
      unwatchFolder(folder);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err }, 'cannot read a folder any more');
      return;
    }
    for (const entry of entries) {
      const absolute = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && !folders.has(absolute) && !readFolders.has(absolute))
          void stat(absolute, true);
        continue;
      }
      const relPath = relativePath(dir, absolute);
      if (isRecordingPath(relPath) && !reported.has(relPath) && !skipped.has(relPath)) void stat(absolute);
    }
  }

  /**
   * The follow of `absolute` ended. If its folder is read, the file may have changed unseen: it is
   * looked at, and the folder's last follow has the folder watched again and all its files looked
   * at. If the folder is watched, no event came for the file (the first would have had the folder
   * read), so the follow's last look stands.
   */
  function followLeft(absolute: string): void {
    const folder = path.dirname(absolute);
    const read = readFolders.get(folder);
    if (!read) return;
    read.followed.delete(absolute);
    if (read.followed.size > 0) return void stat(absolute);
    clearInterval(read.timer);
    readFolders.delete(folder);
    void walk(folder);
  }

  function changed(absolute: string): void {
    if (isFollowed(relativePath(dir, absolute))) return readFolderOf(absolute);
    const entry = recent.get(absolute);
    if (entry) entry.changed = true;
    else look(absolute);
  }

  function look(absolute: string): void {
    const entry = {
      changed: false,
      timer: setTimeout(() => {
        recent.delete(absolute);
        if (entry.changed) changed(absolute);
      }, LOOK_EVERY_MS),
    };
    recent.set(absolute, entry);
    void stat(absolute, true);
  }

  /** Reports the file at `absolute`; with `enter`, a new folder found there is watched and read. */
  async function stat(absolute: string, enter = false): Promise<void> {
    try {
      const stats = await fsp.lstat(absolute);
      if (!stats.isDirectory()) return report(absolute, stats);
      if (enter && !folders.has(absolute) && !readFolders.has(absolute) && !path.basename(absolute).startsWith('.')) {
        await walk(absolute);
        clearTimeout(folderRescan);
        folderRescan = setTimeout(() => void rescan(), NEW_FOLDER_RESCAN_MS);
      }
    } catch (err) {
      const relPath = relativePath(dir, absolute);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err, relPath }, 'cannot stat file');
      // Node decodes names as UTF-8, with U+FFFD for bytes that are not: such a name cannot be
      // opened again by the string it was reported as. Otherwise the file went between the event
      // and the stat, and its workflow notices on its own.
      else if (relPath.includes('\uFFFD') && isRecordingPath(relPath))
        skip(relPath, 'name_not_utf8', 'skipped a file whose name is not valid UTF-8: rename it to upload it');
      else unwatchFolder(absolute);
    }
  }

  /**
   * Watches every folder under `top` (not following links, not entering hidden folders), each
   * before it is read so that no file arrives unseen, and reports every file; returns the
   * relative paths of the recordings seen.
   */
  async function walk(top: string): Promise<Set<string>> {
    const seen = new Set<string>();
    const pending = [top];
    for (let folder = pending.pop(); folder !== undefined; folder = pending.pop()) {
      watchFolder(folder);
      const entries = await fsp.readdir(folder, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const absolute = path.join(folder, entry.name);
        if (entry.isDirectory()) {
          if (!entry.name.startsWith('.')) pending.push(absolute);
        } else {
          const relPath = relativePath(dir, absolute);
          if (isRecordingPath(relPath)) seen.add(relPath);
          await stat(absolute);
        }
      }
    }
    return seen;
  }

  let scanning: Promise<void> | null = null;
  function rescan(): Promise<void> {
    scanning ??= walk(dir)
      .then((seen) => {
        for (const relPath of reported.keys()) if (!seen.has(relPath)) reported.delete(relPath);
      })
      .catch((err: unknown) => logger.warn({ err }, 'rescan of the watched directory failed'))
      .finally(() => (scanning = null));
    return scanning;
  }

  let folderRescan: NodeJS.Timeout | undefined;
  const periodic = setInterval(() => void rescan(), rescanIntervalMs);
  return {
    ready: walk(dir).then((seen) => seen.size),
    followEnded(relPath, last) {
      if (last) reported.set(relPath, fingerprintOf(last));
      if (!isFollowed(relPath)) followLeft(path.join(dir, relPath));
    },
    async close() {
      closed = true;
      clearInterval(periodic);
      clearTimeout(folderRescan);
      for (const { timer } of recent.values()) clearTimeout(timer);
      recent.clear();
      for (const watch of folders.values()) watch.close();
      folders.clear();
      for (const { timer } of readFolders.values()) clearInterval(timer);
      readFolders.clear();
      await scanning;
    },
  };
}

/** A folder the watcher reads instead of watching (see READ_FOLDER_EVERY_MS). */
interface ReadFolder {
  timer: NodeJS.Timeout;
  /** Its followed files that had an event: the folder is watched again when the last one's follow ends. */
  followed: Set<string>;
  /** The folder's mtime when it was last listed. */
  listedMtimeMs?: number;
  /** Whether that mtime was less than a read interval old then: it is listed again to be sure. */
  mtimeWasRecent?: boolean;
}

/** What the watcher compares to tell whether a file changed since it was reported. */
function fingerprintOf({ identity, snapshot }: FileLook): string {
  return `${identity.ino}-${identity.birthtimeMs}-${snapshot.size}-${snapshot.mtimeMs}`;
}
