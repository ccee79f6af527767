import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { StreamMetrics } from '../metrics';
import { classify } from './failures';

/**
 * Wraps activities so that every attempt after the first is counted, and every error goes
 * through `classify` (failures retrying cannot heal become non-retryable) and is counted by
 * reason: its failure type, `transient` for what Temporal retries, or `cancelled`.
 */
export function classifiedActivities(metrics: StreamMetrics) {
  return <I, O>(activity: (input: I) => Promise<O>) =>
    async (input: I): Promise<O> => {
      if (Context.current().info.attempt > 1) metrics.retries.inc();
      try {
        return await activity(input);
      } catch (err) {
        const error = classify(err);
        metrics.uploadFailures.inc({ reason: failureReason(error) });
        throw error;
      }
    };
}

function failureReason(error: Error): string {
  if (error instanceof CancelledFailure) return 'cancelled';
  if (error instanceof ApplicationFailure) return error.type ?? 'unknown';
  return 'transient';
}
