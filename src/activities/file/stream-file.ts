import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileIdentity, sameFile } from '../../stream/identity';
import { FailureType } from '../../stream/failures';
import type { FileIdentity, FileObservation, FileSnapshot } from '../../stream/types';
import { failure } from '../failures';

/**
 * The absolute path of the stream's file beneath WATCH_DIR, as the watcher found it: the one way
 * activities reach a file by its path. A workflow's input is not to be trusted (anyone who may
 * start a workflow writes it), so a path the watcher would not give is refused: not canonical
 * (absolute, or with empty, `.` or `..` segments), or through a symbolic link to a directory,
 * which could lead anywhere. Opening the file itself with O_NOFOLLOW refuses a link there.
 *
 * The check compares the real path of the file's directory with where it should be. A directory
 * of the path replaced by a link between this check and the open would still lead outside: Node
 * has no openat() to open the path one component at a time. Winning that race takes both writing
 * in WATCH_DIR and starting workflows; a link in place when the check runs fails the stream.
 */
export async function resolveInWatchDir(watchDir: string, relPath: string): Promise<string> {
  const segments = relPath.split('/');
  if (relPath.includes('\0') || segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw failure(
      FailureType.InvalidPath,
      `${JSON.stringify(relPath)} is not a path the watcher gives: relative to the watched directory, separated by single "/", without "." or ".."`,
    );
  }
  const root = await fs.realpath(watchDir);
  const file = path.join(root, ...segments);
  const dir = path.dirname(file);
  if (dir !== root && (await fs.realpath(dir)) !== dir) {
    throw failure(
      FailureType.InvalidPath,
      `${JSON.stringify(relPath)} goes through a symbolic link: links in the watched directory are not followed`,
    );
  }
  return file;
}

/** Stats the stream's file; a different file now at the same path counts as "replaced". */
export async function observeFile(watchDir: string, relPath: string, identity: FileIdentity): Promise<FileObservation> {
  return observeResolved(await resolveInWatchDir(watchDir, relPath), identity);
}

/**
 * `observeFile` of a path `resolveInWatchDir` gave earlier, for a follow that looks at the file
 * again and again: a link put in its way since leads lstat to another file, a "replaced" one.
 */
export async function observeResolved(file: string, identity: FileIdentity): Promise<FileObservation> {
  try {
    const stats = await fs.lstat(file);
    if (!stats.isFile() || !sameFile(identity, fileIdentity(stats))) return { status: 'replaced' };
    return { status: 'present', size: stats.size, mtimeMs: stats.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    throw err;
  }
}

/** Opens the file at `relPath` beneath WATCH_DIR for reading (see `resolveInWatchDir`), following no link. */
export async function openInWatchDir(watchDir: string, relPath: string): Promise<fs.FileHandle> {
  return fs.open(await resolveInWatchDir(watchDir, relPath), constants.O_RDONLY | constants.O_NOFOLLOW);
}

/** The stream's file, open for reading, and its state when it was opened. */
export interface OpenedFile {
  handle: fs.FileHandle;
  snapshot: FileSnapshot;
}

/**
 * Opens the stream's file for reading and checks it is still the same file: reading another
 * recording saved under the same name would mix two streams.
 */
export async function openStreamFile(watchDir: string, relPath: string, identity: FileIdentity): Promise<OpenedFile> {
  const handle = await openInWatchDir(watchDir, relPath);
  const stats = await handle.stat();
  if (!sameFile(identity, fileIdentity(stats))) {
    await handle.close();
    throw failure(FailureType.FileReplaced, `${relPath} is now another file`);
  }
  return { handle, snapshot: { size: stats.size, mtimeMs: stats.mtimeMs } };
}

/** Reads exactly `size` bytes at `offset`; a shorter file means it was truncated or rewritten. */
export async function readExactly(
  handle: fs.FileHandle,
  offset: number,
  size: number,
  into: Buffer = Buffer.allocUnsafe(size),
): Promise<Buffer> {
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await handle.read(into, filled, size - filled, offset + filled);
    if (bytesRead === 0) {
      throw failure(FailureType.FileTruncated, `file ends at ${offset + filled}, before byte ${offset + size}`);
    }
    filled += bytesRead;
  }
  return into.subarray(0, size);
}

export const HASH_READ_SIZE = 1 << 20;

/**
 * Feeds `size` bytes at `offset` to `consume`, read through one reusable buffer so memory stays
 * flat whatever the chunk size; false when the file ends first (it was truncated or rewritten).
 */
export async function readRange(
  handle: fs.FileHandle,
  offset: number,
  size: number,
  consume: (bytes: Buffer) => void,
  buffer: Buffer = Buffer.allocUnsafe(HASH_READ_SIZE),
): Promise<boolean> {
  for (let done = 0; done < size;) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - done), offset + done);
    if (bytesRead === 0) return false;
    consume(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
  return true;
}

/** SHA-256 of `size` bytes at `offset` (see `readRange`); null when the file ends first. */
export async function hashRange(
  handle: fs.FileHandle,
  offset: number,
  size: number,
  buffer?: Buffer,
): Promise<Buffer | null> {
  const hash = createHash('sha256');
  return (await readRange(handle, offset, size, (bytes) => hash.update(bytes), buffer)) ? hash.digest() : null;
}
