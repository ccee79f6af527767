import { ActivityCancellationType, type ActivityInterfaceFor, proxyActivities } from '@temporalio/workflow';
import type { StreamActivities } from '../activities';
import { WEBHOOK_ATTEMPTS } from '../stream/completion-webhook';
import { NON_RETRYABLE_FAILURES } from '../stream/failures';

const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  nonRetryableErrorTypes: [...NON_RETRYABLE_FAILURES],
};

type Activities = ActivityInterfaceFor<StreamActivities>;

/** A stream's activities, grouped by the options they run with. */
export interface StreamActivityProxies {
  /** Activities that move or hash chunk bytes: long, heartbeating, cancellable. */
  transfers: Pick<Activities, 'followFile' | 'uploadChunks' | 'verifyChunks' | 'inspectFile' | 'assembleRecording'>;
  /** Activities that answer at once (a stat, a small object); a dead worker costs their short timeout. */
  quick: Pick<Activities, 'openStream' | 'observeStreamFile'>;
  /**
   * The manifest: small objects, though completing may then delete many chunks. It heartbeats: a
   * dead worker costs the heartbeat timeout, not the start-to-close one.
   */
  manifests: Pick<Activities, 'writeManifest'>;
  /** The completion webhook: retried a bounded number of times. */
  webhook: Pick<Activities, 'notifyCompletion'>;
  /** AFTER_UPLOAD=delete: checks every chunk in the bucket (heartbeating), then deletes the file. */
  cleanup: Pick<Activities, 'deleteLocalFile'>;
}

/**
 * Every activity reads the stream's file or acts for a stream of it, so all run on `taskQueue`,
 * the queue of the host that has the file. One proxy per set of options, as Temporal's samples do.
 */
export function streamActivities(taskQueue: string): StreamActivityProxies {
  const { followFile, uploadChunks, verifyChunks, inspectFile, assembleRecording } = proxyActivities<StreamActivities>({
    taskQueue,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '15 seconds',
    // Wait for a cancelled upload to stop, so the manifest can say exactly what reached the bucket.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry,
  });
  const { openStream, observeStreamFile } = proxyActivities<StreamActivities>({
    taskQueue,
    startToCloseTimeout: '30 seconds',
    retry,
  });
  const { deleteLocalFile } = proxyActivities<StreamActivities>({
    taskQueue,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '15 seconds',
    retry,
  });
  const { writeManifest } = proxyActivities<StreamActivities>({
    taskQueue,
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '15 seconds',
    retry,
  });
  const { notifyCompletion } = proxyActivities<StreamActivities>({
    taskQueue,
    startToCloseTimeout: '30 seconds',
    retry: { ...retry, maximumAttempts: WEBHOOK_ATTEMPTS },
  });
  return {
    transfers: { followFile, uploadChunks, verifyChunks, inspectFile, assembleRecording },
    quick: { openStream, observeStreamFile },
    manifests: { writeManifest },
    webhook: { notifyCompletion },
    cleanup: { deleteLocalFile },
  };
}
