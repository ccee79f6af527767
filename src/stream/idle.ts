/**
 * How much longer to wait before a file whose last change was at `lastChangeMs` counts as idle.
 * Measured from the file's own modification time, so a change that the watcher reported late
 * (or not at all) costs only the rest of the timeout, not a whole new one.
 */
export function idleWaitMs(lastChangeMs: number, nowMs: number, idleTimeoutMs: number): number {
  return Math.min(idleTimeoutMs, Math.max(0, lastChangeMs + idleTimeoutMs - nowMs));
}
