import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { StreamMetrics } from '../metrics';
import { FailureType } from '../stream/failures';
import { streamNamesProblem } from '../stream/identity';
import type { StreamRef } from '../stream/types';
import { classify, failure } from './failures';

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
        const reason = failureReason(error);
        metrics.activityFailures.inc({ reason });
        metrics.uploadFailures.inc({ reason });
        throw error;
      }
    };
}

/**
 * Wraps the activities of a stream: its names checked first (see `streamNamesProblem`), then its
 * errors classified and counted as `classifiedActivities` does.
 */
export function streamActivityWrapper(metrics: StreamMetrics, s3Prefix: string) {
  const classified = classifiedActivities(metrics);
  return <I extends { stream: StreamRef }, O>(activity: (input: I) => Promise<O>) =>
    classified(async (input: I): Promise<O> => {
      const problem = streamNamesProblem(input.stream, s3Prefix);
      if (problem) throw failure(FailureType.InvalidStream, problem);
      return activity(input);
    });
}

function failureReason(error: Error): string {
  if (error instanceof CancelledFailure) return 'cancelled';
  if (error instanceof ApplicationFailure) return error.type ?? 'unknown';
  return 'transient';
}
