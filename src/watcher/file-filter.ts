/** Names recorders and copy tools give to files that are not finished recordings yet. */
const TEMPORARY = /(\.(tmp|temp|part|partial|crdownload|download|swp)|~)$/i;

/** Whether a path (relative to WATCH_DIR, `/`-separated) is a recording to upload. */
export type RecordingFilter = (relPath: string) => boolean;

/**
 * The filter of WATCH_PATTERNS (see `parseWatchPatterns`): a file whose name matches one of the
 * patterns, whatever the case, and that is neither hidden (nor inside a hidden folder) nor a
 * temporary file.
 */
export function recordingFilter(patterns: readonly string[]): RecordingFilter {
  const names = new RegExp(`^(?:${patterns.map(globSource).join('|')})$`, 'is');
  return (relPath) => {
    const parts = relPath.split('/');
    if (parts.some((part) => part.startsWith('.') || part === '')) return false;
    const name = parts[parts.length - 1];
    return names.test(name) && !TEMPORARY.test(name);
  };
}

/** `*` any characters, `?` one; everything else stands for itself. */
function globSource(pattern: string): string {
  return [...pattern].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/, '\\$&'))).join('');
}
