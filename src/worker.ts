import fs from 'node:fs';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { ChunkBuffers } from './activities/store/chunk-buffers';
import { ChunkFingerprints } from './activities/file/chunk-fingerprints';
import { UploadRate } from './activities/store/upload-rate';
import { Slots } from './activities/slots';
import type { AppConfig } from './config';
import { FollowedStreams } from './followed-streams';
import type { StreamMetrics } from './metrics';

/**
 * Checks of a file against its chunks that run at once. Each hashes on the main thread, so more
 * at once would not end sooner: with a hundred streams ending together every check shared that
 * thread a hundred ways and finished last (docs/performance.md, 100 cameras). Two keep a disk
 * read and the hashing overlapped; the others wait their turn, live first, and end one by one.
 */
const CHECKS_AT_ONCE = 2;

/**
 * Activities this process runs at once. Each stream being recorded holds one (its follow) for as
 * long as the file grows, and the SDK's default of 100 left the 101st camera's chunks waiting for
 * a follow to end: at 110 streams, chunk lag p99 was 42 s (docs/performance.md). An activity
 * mostly waits; what costs memory and CPU is bounded apart: upload slots, check slots, buffers.
 */
const ACTIVITIES_AT_ONCE = 1_000;

/** Written by `npm run build` next to the compiled app; absent when the app runs from source (tests). */
export const WORKFLOW_BUNDLE = path.join(__dirname, 'workflow-bundle.js');

/**
 * The Temporal workers of one process, as its role has them: the stream workflows on the shared
 * task queue (roles `all`, `workflow`), and the activities, which read this host's files, on the
 * host's own queue (roles `all`, `edge`). Several hosts can thus share one Temporal server, each
 * uploading only the files it has. `followed` is shared with this host's watcher.
 */
export async function createStreamWorkers(
  config: AppConfig,
  connection: NativeConnection,
  s3: S3Client,
  metrics: StreamMetrics,
  followed = new FollowedStreams(),
): Promise<Worker[]> {
  const { namespace, taskQueue, fileTaskQueue } = config.temporal;
  const workers: Array<Promise<Worker>> = [];
  if (config.role !== 'edge') {
    workers.push(
      Worker.create({
        connection,
        namespace,
        taskQueue,
        ...(prebuiltBundleIsCurrent()
          ? { workflowBundle: { codePath: WORKFLOW_BUNDLE } }
          : { workflowsPath: require.resolve('./workflows') }),
      }),
    );
  }
  if (config.role === 'workflow') return Promise.all(workers);
  const activities = createActivities({
    s3,
    bucket: config.s3.bucket,
    watchDir: config.watchDir,
    metrics,
    uploadSlots: new Slots(config.maxConcurrentUploads),
    checkSlots: new Slots(CHECKS_AT_ONCE),
    ...(config.uploadRateLimit !== undefined && { rate: new UploadRate(config.uploadRateLimit) }),
    buffers: new ChunkBuffers(),
    fingerprints: await ChunkFingerprints.create(),
    followed,
    completionWebhookUrl: config.completionWebhookUrl,
    s3Prefix: config.s3.prefix,
  });
  workers.push(
    Worker.create({
      connection,
      namespace,
      taskQueue: fileTaskQueue,
      activities,
      maxConcurrentActivityTaskExecutions: ACTIVITIES_AT_ONCE,
      // In-flight uploads get this long to finish on shutdown before they are handed back to Temporal.
      shutdownGraceTime: config.shutdownGraceTimeMs,
    }),
  );
  return Promise.all(workers);
}

/**
 * Whether the build's workflow bundle is at least as new as the compiled workflow code: after a
 * bare `tsc` the bundle would be an older workflow, which running streams would replay wrongly,
 * so the worker then bundles the code itself.
 */
function prebuiltBundleIsCurrent(): boolean {
  if (!fs.existsSync(WORKFLOW_BUNDLE)) return false;
  const bundledAt = fs.statSync(WORKFLOW_BUNDLE).mtimeMs;
  return ['workflows', 'stream'].every((folder) =>
    fs
      .readdirSync(path.join(__dirname, folder))
      .every((file) => fs.statSync(path.join(__dirname, folder, file)).mtimeMs <= bundledAt),
  );
}
