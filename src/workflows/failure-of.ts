import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { NON_RETRYABLE_FAILURES } from '../stream/failures';
import type { StreamFailure } from '../stream/types';

/** The non-retryable failure behind an error, whether raised by the workflow or by an activity. */
export function failureOf(err: unknown): StreamFailure | null {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (
    cause instanceof ApplicationFailure &&
    cause.type &&
    (NON_RETRYABLE_FAILURES as readonly string[]).includes(cause.type)
  ) {
    return { type: cause.type, message: cause.message };
  }
  return null;
}
