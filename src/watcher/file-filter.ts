/** Names recorders and copy tools give to files that are not finished recordings yet. */
const TEMPORARY = /(\.(tmp|temp|part|partial|crdownload|download|swp)|~)$/i;

/**
 * Whether a path (relative to WATCH_DIR, `/`-separated) is a recording to upload: an `.mp4` that
 * is neither hidden (nor inside a hidden folder) nor a temporary file.
 */
export function isRecordingPath(relPath: string): boolean {
  const parts = relPath.split('/');
  if (parts.some((part) => part.startsWith('.') || part === '')) return false;
  const name = parts[parts.length - 1];
  return /\.mp4$/i.test(name) && !TEMPORARY.test(name);
}
