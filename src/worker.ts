import type { S3Client } from '@aws-sdk/client-s3';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import type { AppConfig } from './config';
import type { StreamMetrics } from './metrics';

/** A Temporal worker that runs the stream workflows and their activities. */
export async function createStreamWorker(config: AppConfig, connection: NativeConnection, s3: S3Client, metrics: StreamMetrics): Promise<Worker> {
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: createActivities({ s3, bucket: config.s3.bucket, watchDir: config.watchDir, metrics, completionWebhookUrl: config.completionWebhookUrl }),
    // In-flight uploads get this long to finish on shutdown before they are handed back to Temporal.
    shutdownGraceTime: config.shutdownGraceTimeMs,
  });
}
