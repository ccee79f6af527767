import path from 'node:path';

/** `absolute` relative to `dir`, with `/` separators whatever the platform: a stream's path. */
export function relativePath(dir: string, absolute: string): string {
  return path.relative(dir, absolute).split(path.sep).join('/');
}
