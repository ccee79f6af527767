import { Context } from '@temporalio/activity';

/** How often an activity heartbeats within its heartbeat timeout. */
const BEATS_PER_TIMEOUT = 3;
/** For an activity scheduled without a heartbeat timeout: its heartbeats only carry cancellations. */
const DEFAULT_HEARTBEAT_EVERY_MS = 5_000;

/**
 * Heartbeats while `work` runs, so that the server notices a dead worker within the heartbeat
 * timeout and a cancellation reaches us; `work` gets the signal that aborts its I/O on cancel.
 *
 * Three beats per timeout leave two to spare. More often gains nothing: the Temporal core sends
 * the server at most one heartbeat per 80% of the timeout and keeps only the newest details,
 * while each call still costs CPU, mostly outside JavaScript (at 10 live streams, beating every
 * 10 s instead of every 2 s took the main thread from 31 to 25 ms a second; docs/performance.md).
 */
export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>, details?: () => unknown): Promise<T> {
  const context = Context.current();
  const beat = () => context.heartbeat(details?.());
  const { heartbeatTimeoutMs } = context.info;
  beat();
  const timer = setInterval(
    beat,
    heartbeatTimeoutMs ? heartbeatTimeoutMs / BEATS_PER_TIMEOUT : DEFAULT_HEARTBEAT_EVERY_MS,
  );
  try {
    return await work(context.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
