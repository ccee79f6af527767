import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { startTemporal, type TemporalServer } from '../../scripts/local-servers';
import { createBucket, s3ClientFor, startMinio, type S3Server } from '../../scripts/s3-servers';
import { ffprobeDurationSeconds, makeMp4 } from '../support/media';

// Smoke test of the test tooling itself: when this fails, every other integration test would fail
// for the same reason, and this one says which tool is missing or broken.

let temporal: TemporalServer | undefined;
let minio: S3Server | undefined;

before(async () => {
  // Started one after the other so a failure of the first cannot leave the second running unowned.
  temporal = await startTemporal({ headless: false });
  minio = await startMinio();
});

after(async () => {
  await Promise.all([temporal?.stop(), minio?.stop()]);
});

test('the Temporal dev server answers gRPC and serves its Web UI', async () => {
  const connection = await Connection.connect({ address: temporal!.address });
  try {
    const info = await connection.workflowService.getSystemInfo({});
    assert.ok(info.serverVersion, 'getSystemInfo returns a server version');
    await connection.workflowService.describeNamespace({ namespace: temporal!.namespace });
  } finally {
    await connection.close();
  }
  assert.equal((await fetch(temporal!.uiUrl)).status, 200);
});

test('MinIO stores and returns an object, also across a restart', async () => {
  const s3 = minio!;
  await createBucket(s3, 'smoke');
  await createBucket(s3, 'smoke'); // idempotent
  const client = s3ClientFor(s3);
  try {
    await client.send(new PutObjectCommand({ Bucket: 'smoke', Key: 'a/b.txt', Body: 'hello' }));
    const read = async () =>
      (await client.send(new GetObjectCommand({ Bucket: 'smoke', Key: 'a/b.txt' }))).Body!.transformToString();
    assert.equal(await read(), 'hello');
    await s3.restart();
    assert.equal(await read(), 'hello');
  } finally {
    client.destroy();
  }
});

test('ffmpeg makes regular and fragmented MP4s that ffprobe reads back', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stream-uploader-media-'));
  try {
    for (const kind of ['regular', 'fragmented'] as const) {
      const file = path.join(dir, `${kind}.mp4`);
      await makeMp4(file, { seconds: 2, kind });
      const seconds = await ffprobeDurationSeconds(file);
      assert.ok(Math.abs(seconds - 2) < 0.2, `${kind}: duration ${seconds} s, expected about 2 s`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
