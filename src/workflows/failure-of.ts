import { RetryState } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, CancelledFailure, isCancellation } from '@temporalio/workflow';
import { NON_RETRYABLE_FAILURES } from '../stream/failures';
import type { FollowProgress, StreamFailure } from '../stream/types';

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

/**
 * What a follow cancelled by a pause or a cancel had uploaded (its failure's details); null for
 * any other error, and for follows cancelled before they reported it.
 */
export function cancelledFollowProgress(err: unknown): FollowProgress | null {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (!(cause instanceof CancelledFailure)) return null;
  const [progress] = cause.details as Partial<FollowProgress>[];
  return Array.isArray(progress?.records) && Array.isArray(progress.rewritten) ? (progress as FollowProgress) : null;
}

/**
 * Whether an error ends an activity that the workflow asked to stop: its cancellation, or, when
 * its worker died before it heard of the cancel, the timeout that Temporal then reports instead
 * (and does not retry, since a cancel was requested).
 */
export function endedByCancel(err: unknown): boolean {
  return isCancellation(err) || (err instanceof ActivityFailure && err.retryState === RetryState.CANCEL_REQUESTED);
}
