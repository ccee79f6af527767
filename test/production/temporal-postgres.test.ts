import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ANY_PORT } from '../../scripts/local-servers';
import { createBucket, s3ClientFor, startMinio, type S3Server } from '../../scripts/s3-servers';
import { streamRef } from '../../src/stream/identity';
import { STREAM_SEARCH_ATTRIBUTES } from '../../src/stream/search-attributes';
import { startApp, type AppProcess } from '../support/app-process';
import { downloadStreamSha256, s3Env, waitForCompleteManifest } from '../support/bucket';
import { newAppUser, runBucketJob, type MinioAppUser } from '../support/minio-bucket-job';
import { recordLive, sha256File } from '../support/media';
import { startProductionTemporal, type ProductionTemporal, type ScriptRun } from '../support/temporal-postgres';
import { waitUntil } from '../support/wait';

const CHUNK_SIZE = 256 * 1024;
const BUCKET = 'recordings';
/** A bucket of someone else's on the same MinIO, which the app's user must not reach. */
const OTHER_BUCKET = 'someone-else';
const PREFIX = 'production';
const RECORDING_SECONDS = 14;
/** How long the Temporal server stays down after its SIGKILL. */
const DOWN_MS = 3000;

/**
 * The production Temporal server (built from go.temporal.io/server, the version docker-compose.yml
 * runs) on PostgreSQL, set up by the compose's own scripts, with the app process against it: the
 * server is SIGKILLed in the middle of a live recording and started again. The app holds the
 * credentials of the MinIO user that the compose's bucket job creates, not the root's.
 */
describe('production Temporal server on PostgreSQL', () => {
  let temporal: ProductionTemporal;
  let minio: S3Server;
  /** The root's client: the test's view of the bucket. */
  let s3: S3Client;
  let appUser: MinioAppUser;
  let appMinio: S3Server;
  const bucketJobRuns: ScriptRun[] = [];
  let connection: Connection;
  let client: Client;
  let app: AppProcess | undefined;
  let workDir: string;

  before(async () => {
    [temporal, minio] = await Promise.all([startProductionTemporal(), startMinio()]);
    s3 = s3ClientFor(minio);
    connection = await Connection.connect({ address: temporal.address });
    client = new Client({ connection, namespace: temporal.namespace });
    const root = path.resolve(__dirname, '..', '.tmp');
    fs.mkdirSync(root, { recursive: true });
    workDir = fs.mkdtempSync(path.join(root, 'production-'));
    appUser = newAppUser();
    appMinio = { ...minio, ...appUser };
    for (let run = 0; run < 2; run++) bucketJobRuns.push(await runBucketJob(minio, BUCKET, appUser, workDir));
  });
  after(async () => {
    await app?.stop('SIGKILL');
    s3?.destroy();
    await connection?.close();
    await Promise.all([temporal?.stop(), minio?.stop()]);
  });

  function assertRan(runs: ScriptRun[], script: string) {
    assert.equal(runs.length, 2, `${script} ran twice`);
    runs.forEach((run, i) => assert.equal(run.status, 0, `${script}, run ${i + 1}, exits 0:\n${run.output}`));
  }

  test("the compose's setup and namespace scripts run, each twice", () => {
    assertRan(temporal.setupRuns, 'setup-postgres.sh');
    assert.match(temporal.setupRuns[1].output, /PostgreSQL schema setup complete/);
    assertRan(temporal.namespaceRuns, 'create-namespace.sh');
    assert.match(temporal.namespaceRuns[0].output, /created/);
    assert.match(temporal.namespaceRuns[1].output, /already exists/);
    assertRan(bucketJobRuns, 'create-bucket.sh');
    assert.match(bucketJobRuns[1].output, /ready/);
  });

  test("the bucket job's user reaches the app's bucket, for everything the app does there, and nothing else", async () => {
    await createBucket(minio, OTHER_BUCKET);
    await s3.send(new PutObjectCommand({ Bucket: OTHER_BUCKET, Key: 'private', Body: 'not yours' }));
    const asApp = s3ClientFor(appMinio);
    try {
      await asApp.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'probe/a', Body: Buffer.alloc(5 * 2 ** 20) }));
      const { UploadId } = await asApp.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'probe/whole' }));
      const part = await asApp.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: 'probe/whole',
          UploadId,
          PartNumber: 1,
          CopySource: `${BUCKET}/probe/a`,
        }),
      );
      await asApp.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: 'probe/whole',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult?.ETag }] },
        }),
      );
      for (const key of ['probe/a', 'probe/whole'])
        await asApp.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));

      const denied = async (what: string, attempt: Promise<unknown>) =>
        assert.rejects(attempt, { name: 'AccessDenied' }, `the app's user may not ${what}`);
      await denied('read another bucket', asApp.send(new GetObjectCommand({ Bucket: OTHER_BUCKET, Key: 'private' })));
      await denied(
        'write another bucket',
        asApp.send(new PutObjectCommand({ Bucket: OTHER_BUCKET, Key: 'x', Body: 'x' })),
      );
      await denied('create a bucket', asApp.send(new CreateBucketCommand({ Bucket: 'app-made' })));
      await denied('delete its own bucket', asApp.send(new DeleteBucketCommand({ Bucket: BUCKET })));
    } finally {
      asApp.destroy();
    }
  });

  test('the app uploads a live regular MP4 byte for byte across a SIGKILL and restart of the server', async () => {
    const watchDir = path.join(workDir, 'watch');
    fs.mkdirSync(watchDir);
    const logFile = path.join(workDir, 'app.log');
    app = startApp(
      {
        ...s3Env(appMinio, BUCKET),
        S3_PREFIX: PREFIX,
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE: temporal.namespace,
        TEMPORAL_TASK_QUEUE: `production-${process.pid}`,
        WATCH_DIR: watchDir,
        CHUNK_SIZE: String(CHUNK_SIZE),
        STREAM_IDLE_TIMEOUT: '2s',
        WATCH_COALESCE_INTERVAL: '250ms',
        METRICS_PORT: ANY_PORT,
        TEMPORAL_METRICS_PORT: ANY_PORT,
        SHUTDOWN_GRACE_TIME: '10s',
        LOG_LEVEL: 'debug',
      },
      logFile,
    );
    const appLog = () => `app log ${logFile}; server log ${temporal.logFile}`;
    await app.waitForLog((line) => line.msg === 'watching for recordings', 60_000);

    // The app registers its search attributes itself; SQL visibility has its own limits.
    const registered = app.logs.find((line) => line.msg === 'registered search attributes');
    assert.deepEqual(
      registered?.registered,
      STREAM_SEARCH_ATTRIBUTES.map((key) => key.name),
      'the app registered every stream search attribute on a fresh namespace',
    );
    const { customAttributes } = await connection.operatorService.listSearchAttributes({
      namespace: temporal.namespace,
    });
    for (const key of STREAM_SEARCH_ATTRIBUTES)
      assert.ok(customAttributes?.[key.name], `${key.name} is a search attribute of the namespace`);

    const relPath = 'live-regular.mp4';
    const file = path.join(watchDir, relPath);
    const recording = recordLive(file, { seconds: RECORDING_SECONDS, kind: 'regular', bitrate: '3M' });
    let recorded = false;
    recording.done.then(
      () => (recorded = true),
      () => undefined,
    );
    try {
      await app.waitForLog((line) => line.msg === 'chunk uploaded', 30_000);
      const uploadedBeforeKill = countUploads();
      await temporal.kill('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
      await temporal.start();
      assert.ok(!recorded, 'the server was killed and back while ffmpeg was still recording');
      console.log(
        'production figures',
        JSON.stringify({ uploadedBeforeKill, uploadedWhileRestarting: countUploads() - uploadedBeforeKill }),
      );
      await recording.done;
    } finally {
      recording.kill();
    }

    const stats = fs.statSync(file);
    const stream = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, PREFIX);
    const manifest = await waitForCompleteManifest(s3, BUCKET, stream.prefix, 90_000, appLog);
    assert.equal(manifest.totalSize, fs.statSync(file).size);
    assert.equal(
      await downloadStreamSha256(s3, BUCKET, manifest),
      await sha256File(file),
      'the chunks, concatenated as metadata.json lists them, equal the file byte for byte',
    );
    assert.ok(
      manifest.chunks.some((chunk) => Date.parse(chunk.uploadedAt) < stats.mtimeMs),
      'chunks went up while it was being recorded',
    );

    // SQL visibility serves the app's search attributes (eventually consistent: polled).
    const query = `WorkflowId = '${stream.workflowId}' AND StreamStatus = 'complete' AND StreamBytesUploaded = ${manifest.totalSize}`;
    let found = 0;
    await waitUntil(
      async () => {
        found = 0;
        for await (const execution of client.workflow.list({ query })) if (execution.workflowId) found++;
        return found > 0;
      },
      30_000,
      () => `query ${query}; ${appLog()}`,
    );
    assert.deepEqual(app.strayLines, [], 'stdout is JSON lines only');
    assert.equal(await app.stop('SIGTERM'), 0, 'graceful shutdown exits 0');
    app = undefined;

    function countUploads() {
      return app!.logs.filter((line) => line.msg === 'chunk uploaded').length;
    }
  });
});
