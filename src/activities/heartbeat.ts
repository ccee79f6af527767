import { Context } from '@temporalio/activity';

const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Heartbeats while `work` runs, so that the server notices a dead worker within the heartbeat
 * timeout and a cancellation reaches us; `work` gets the signal that aborts its I/O on cancel.
 */
export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>, details?: () => unknown): Promise<T> {
  const context = Context.current();
  const beat = () => context.heartbeat(details?.());
  beat();
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  try {
    return await work(context.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
