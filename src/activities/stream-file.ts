import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileIdentity, sameFile } from '../stream/identity';
import { FailureType } from '../stream/failures';
import type { FileIdentity, FileObservation, FileSnapshot } from '../stream/types';
import { failure } from './failures';

/** Resolves a stream's relative path inside WATCH_DIR, refusing anything that escapes it. */
export function resolveInWatchDir(watchDir: string, relPath: string): string {
  const absolute = path.resolve(watchDir, relPath);
  if (path.relative(watchDir, absolute).startsWith('..') || path.isAbsolute(relPath)) {
    throw failure(FailureType.InvalidPath, `${relPath} is outside the watched directory`);
  }
  return absolute;
}

/** Stats the stream's file; a different file now at the same path counts as "replaced". */
export async function observeFile(watchDir: string, relPath: string, identity: FileIdentity): Promise<FileObservation> {
  try {
    const stats = await fs.lstat(resolveInWatchDir(watchDir, relPath));
    if (!stats.isFile() || !sameFile(identity, fileIdentity(stats))) return { status: 'replaced' };
    return { status: 'present', size: stats.size, mtimeMs: stats.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    throw err;
  }
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
  const handle = await fs.open(resolveInWatchDir(watchDir, relPath), constants.O_RDONLY | constants.O_NOFOLLOW);
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
 * SHA-256 of `size` bytes at `offset`, read through one reusable buffer so memory stays flat
 * whatever the chunk size; null when the file ends first (it was truncated or rewritten).
 */
export async function hashRange(
  handle: fs.FileHandle,
  offset: number,
  size: number,
  buffer = Buffer.allocUnsafe(HASH_READ_SIZE),
): Promise<Buffer | null> {
  const hash = createHash('sha256');
  for (let done = 0; done < size;) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - done), offset + done);
    if (bytesRead === 0) return null;
    hash.update(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
  return hash.digest();
}
