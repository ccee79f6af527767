import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeMp4, sha256File } from '../test/support/media';

/**
 * Recordings the benchmark uploads, generated once by ffmpeg and cached in bench/cache/ (not
 * committed). A backlog of many files holds a few distinct recordings and copies of them: copies
 * are separate files (own inodes and page-cache pages), so every byte is read from disk like a
 * distinct recording's, at a fraction of the encoding time.
 */

export const CACHE_DIR = path.resolve(__dirname, 'cache');

/** 720p at a camera's bitrate: real H.264 + AAC, the shape of what the product uploads. */
const VIDEO_SIZE = '1280x720';
const BACKLOG_BITRATE_BITS = 8e6;

export interface CachedFile {
  file: string;
  bytes: number;
  sha256: string;
}

interface CacheIndex {
  files: CachedFile[];
}

/** `count` regular MP4s of about `bytes` each, `distinct` of them encoded; cached by their sizes. */
export async function backlogFiles(
  count: number,
  distinct: number,
  bytes: number,
  log: (message: string) => void,
): Promise<CachedFile[]> {
  const dir = path.join(CACHE_DIR, `backlog-${count}x${bytes}-${distinct}`);
  const indexFile = path.join(dir, 'index.json');
  // The index is written last: a run cut short leaves no index, and the set is made again.
  if (fs.existsSync(indexFile)) return (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as CacheIndex).files;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const seconds = Math.max(1, Math.round((bytes * 8) / BACKLOG_BITRATE_BITS));
  log(
    `generating ${distinct} recordings of ${seconds} s (about ${(bytes / 1e6).toFixed(0)} MB each) and ${count - distinct} copies in ${dir}`,
  );
  const names = Array.from({ length: count }, (_, i) => path.join(dir, `file-${String(i).padStart(2, '0')}.mp4`));
  for (const file of names.slice(0, distinct)) {
    await makeMp4(file, { seconds, kind: 'regular', bitrate: String(BACKLOG_BITRATE_BITS), size: VIDEO_SIZE });
  }
  names.slice(distinct).forEach((file, i) => fs.copyFileSync(names[i % distinct], file));
  const files: CachedFile[] = [];
  for (const file of names) files.push({ file, bytes: fs.statSync(file).size, sha256: await sha256File(file) });
  fs.writeFileSync(indexFile, JSON.stringify({ files } satisfies CacheIndex, null, 2));
  return files;
}

/** A fragmented MP4 of `seconds` at `bitrate`, which the live writers replay at its own rate. */
export async function liveSource(seconds: number, bitrate: string): Promise<string> {
  const file = path.join(CACHE_DIR, `live-${seconds}s-${bitrate}.mp4`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${file}.partial.mp4`;
  await makeMp4(partial, { seconds, kind: 'fragmented', bitrate, size: VIDEO_SIZE });
  fs.renameSync(partial, file);
  return file;
}

/**
 * Flushes every dirty page to disk, the previous contender's objects in MinIO's data directory
 * included, so that their write-back does not slow the next contender down.
 */
export function flushWrites(): void {
  spawnSync('sync');
}

/**
 * Starts a contender from a cold host: dirty pages flushed and the files' pages dropped, so that
 * the next reader reads the disk. Where the bench may (as root), the whole page cache is dropped:
 * on this host MinIO's system time per GB doubled after a few GB had gone through it since the
 * last drop (2.6 -> 4.9 s/GB for the same PUTs), which penalised whichever contender ran last.
 * Elsewhere only these files are evicted (POSIX_FADV_DONTNEED through `dd iflag=nocache`), and
 * other work on the host keeps its cache. Returns how it was done, for the report.
 */
export function startCold(files: string[]): 'page cache dropped' | 'files evicted' {
  flushWrites();
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '1');
    return 'page cache dropped';
  } catch {
    for (const file of files) spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
    return 'files evicted';
  }
}

/** Places cached files into a watch directory as new names of the same bytes (no copy, same mtime). */
export function linkInto(dir: string, files: CachedFile[]): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return files.map(({ file }) => {
    const target = path.join(dir, path.basename(file));
    fs.linkSync(file, target);
    return target;
  });
}
