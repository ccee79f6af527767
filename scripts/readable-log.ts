import { printable } from '../src/printable';

/** Fields every line has, shown in the line's head or not at all. */
const HEAD_FIELDS = new Set(['time', 'level', 'msg', 'service', 'pid', 'hostname']);

/**
 * One of the app's JSON log lines as a person reads it on a terminal:
 * `12:34:56.789 WARN  stream blocked until an operator resumes it  streamId=cam/a.mp4@1-2 type=BucketMissing`.
 * Anything that is not a JSON object is shown as it is. Either way control characters are escaped
 * (see `printable`): decoding the JSON turns a file name's `\u001b` in the log back into an ESC.
 */
export function readableLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return printable(line);
    entry = parsed as Record<string, unknown>;
  } catch {
    return printable(line);
  }
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const level = String(entry.level ?? '')
    .toUpperCase()
    .padEnd(5);
  const fields = Object.entries(entry)
    .filter(([key]) => !HEAD_FIELDS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return printable([`${time} ${level} ${String(entry.msg ?? '')}`, ...fields].join('  '));
}
