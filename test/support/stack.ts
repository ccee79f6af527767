import type { S3Client } from '@aws-sdk/client-s3';
import fs from 'node:fs';
import path from 'node:path';
import {
  Client,
  Connection,
  type WorkflowHandleWithFirstExecutionRunId,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { startTemporal, type TemporalServer } from '../../scripts/local-servers';
import { createBucket, s3ClientFor, startMinio, type S3Server } from '../../scripts/s3-servers';
import { loadConfig, type AppConfig } from '../../src/config';
import { createMetrics, type StreamMetrics } from '../../src/metrics';
import { createS3Client } from '../../src/s3';
import { registerSearchAttributes } from '../../src/temporal-setup';
import { streamRef } from '../../src/stream/identity';
import { s3Env } from './bucket';
import type { StreamRef, StreamUploadInput } from '../../src/stream/types';
import { streamOptionsFrom } from '../../src/watcher/stream-signaler';
import { STREAM_UPLOAD_WORKFLOW } from '../../src/workflows/definitions';
import type { StreamUploadWorkflow } from '../../src/workflows';
import { createStreamWorkers } from '../../src/worker';

// In-process workers log their warnings only; the app's own logs are tested end to end.
Runtime.install({ logger: new DefaultLogger('WARN') });

/** A real Temporal dev server and a real MinIO on free loopback ports, with a bucket and clients. */
export interface TestStack {
  temporal: TemporalServer;
  minio: S3Server;
  bucket: string;
  s3: S3Client;
  client: Client;
  /** Environment for the app (or `loadConfig`) pointing at this stack. */
  env(overrides?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

/**
 * `temporalDbFile` keeps Temporal's state in that SQLite file, so `temporal.restart()` resumes its
 * workflows. `startS3` starts another S3 server than a plain MinIO.
 */
export async function startStack(
  opts: { temporalDbFile?: string; startS3?: () => Promise<S3Server> } = {},
): Promise<TestStack> {
  const [temporal, minio] = await Promise.all([
    startTemporal({ dbFile: opts.temporalDbFile }),
    (opts.startS3 ?? startMinio)(),
  ]);
  const bucket = 'recordings';
  await createBucket(minio, bucket);
  const s3 = s3ClientFor(minio);
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  await registerSearchAttributes(connection, temporal.namespace);
  return {
    temporal,
    minio,
    bucket,
    s3,
    client,
    env: (overrides = {}) => ({
      ...s3Env(minio, bucket),
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: temporal.namespace,
      ...overrides,
    }),
    async stop() {
      s3.destroy();
      await connection.close();
      await Promise.all([temporal.stop(), minio.stop()]);
    },
  };
}

/** A fresh directory under test/.tmp (kept on failure for a look, removed by the next run). */
export function tempDir(name: string): string {
  const root = path.resolve(__dirname, '..', '.tmp');
  fs.mkdirSync(root, { recursive: true });
  return fs.mkdtempSync(path.join(root, `${name}-`));
}

/** The app's config for this stack, with the app's own S3 client and an in-process worker. */
export interface TestWorker {
  config: AppConfig;
  /** The worker's metrics, as its /metrics endpoint would serve them. */
  metrics: StreamMetrics;
  stop(): Promise<void>;
}

/** Metrics of an in-process worker: no /metrics is served, so there is nothing to survey. */
export function unservedMetrics(): StreamMetrics {
  return createMetrics(async () => ({ running: 0, phases: { recording: 0, paused: 0, blocked: 0 }, hosts: [] }));
}

export async function startWorker(stack: TestStack, overrides: Record<string, string>): Promise<TestWorker> {
  const env = stack.env(overrides);
  const config = loadConfig({
    ...env,
    TEMPORAL_TASK_QUEUE: overrides.TEMPORAL_TASK_QUEUE ?? `test-${process.pid}-${Date.now()}`,
  });
  // The AWS SDK reads credentials from the environment, as in production.
  process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY;
  const connection = await NativeConnection.connect({ address: stack.temporal.address });
  const s3 = createS3Client(config.s3);
  const metrics = unservedMetrics();
  const workers = await createStreamWorkers(config, connection, s3, metrics);
  const running = Promise.all(workers.map((worker) => worker.run()));
  return {
    config,
    metrics,
    async stop() {
      workers.forEach((worker) => worker.shutdown());
      await running;
      await connection.close();
      s3.destroy();
    },
  };
}

/**
 * Starts the workflow of a file in the worker's WATCH_DIR with the input the watcher would give
 * it (`extra` overrides parts of it), without a watcher: the test decides when signals arrive.
 */
export async function startStream(
  stack: TestStack,
  worker: Pick<TestWorker, 'config'>,
  relPath: string,
  extra: Partial<StreamUploadInput> = {},
  options: Pick<WorkflowStartOptions, 'typedSearchAttributes'> = {},
): Promise<{ handle: WorkflowHandleWithFirstExecutionRunId<typeof StreamUploadWorkflow>; stream: StreamRef }> {
  const { config } = worker;
  const stats = fs.statSync(path.join(config.watchDir, relPath));
  const stream = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, config.s3.prefix);
  const input: StreamUploadInput = {
    stream,
    ...streamOptionsFrom(config),
    file: { size: stats.size, mtimeMs: stats.mtimeMs },
    ...extra,
  };
  const handle = await stack.client.workflow.start<typeof StreamUploadWorkflow>(STREAM_UPLOAD_WORKFLOW, {
    workflowId: stream.workflowId,
    taskQueue: config.temporal.taskQueue,
    args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    ...options,
  });
  return { handle, stream };
}
