import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { createBucket, startMinio, type S3Server } from '../../scripts/s3-servers';
import { ChunkBuffers } from '../../src/activities/store/chunk-buffers';
import { ChunkFingerprints } from '../../src/activities/file/chunk-fingerprints';
import { sendChunks } from '../../src/activities/store/upload-chunk';
import { Slots } from '../../src/activities/slots';
import { chunkRange } from '../../src/stream/chunk-plan';
import { streamRef } from '../../src/stream/identity';
import { appS3Client, type AppS3Client } from '../support/app-s3-client';
import { objectExists } from '../support/bucket';
import { tempDir } from '../support/stack';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { waitUntil } from '../support/wait';

const BUCKET = 'recordings';
/** Small enough that the whole request fits the sockets' kernel buffers while the link stalls. */
const CHUNK_SIZE = 2 ** 20;

/**
 * A cancelled stream's manifest lists exactly the chunks in the bucket, so a chunk PUT the app
 * aborts must never be stored later. Closing its connection the ordinary way (a FIN) would still
 * hand the server every body byte the kernel holds, and the server would then store the chunk
 * once the link flows again: after the manifest was written without it.
 */
describe('an aborted chunk PUT', () => {
  let minio: S3Server;
  let proxy: TcpProxy;
  let client: AppS3Client;
  let watchDir: string;

  before(async () => {
    minio = await startMinio();
    await createBucket(minio, BUCKET);
    proxy = await startTcpProxy({ host: '127.0.0.1', port: minio.port });
    client = appS3Client(minio, BUCKET, { prefix: 'aborted', endpoint: proxy.endpoint, requestTimeoutMs: 60_000 });
    watchDir = tempDir('aborted-put');
  });
  after(async () => {
    await proxy?.close();
    client?.s3.destroy();
    await minio?.stop();
  });

  test('resets its connection: the server never gets the whole request, and stores nothing', async () => {
    const relPath = 'cam.mp4';
    const file = path.join(watchDir, relPath);
    fs.writeFileSync(file, randomBytes(CHUNK_SIZE));
    const stats = fs.statSync(file);
    const stream = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, 'aborted');
    const key = `${stream.prefix}/chunks/000000`;

    let bytesUpAtPut = 0;
    client.onNextPut(() => {
      proxy.setMode('stall');
      bytesUpAtPut = proxy.stats().bytesUp;
    });
    const cancel = new AbortController();
    const upload = sendChunks(
      {
        s3: client.s3,
        bucket: BUCKET,
        watchDir,
        uploadSlots: new Slots(1),
        buffers: new ChunkBuffers(),
        fingerprints: await ChunkFingerprints.create(),
      },
      { stream, ranges: [chunkRange(0, CHUNK_SIZE, CHUNK_SIZE)], concurrency: 1 },
      'backlog',
      cancel.signal,
      () => undefined,
    );
    await waitUntil(() => proxy.mode() === 'stall', 10_000);
    // The request leaves the app for the kernel's buffers, where the stalled link holds it.
    await sleep(500);
    cancel.abort(new Error('stream cancelled'));
    await assert.rejects(upload, /cancelled|aborted/i);

    proxy.setMode('pass');
    // Whatever the kernel still held has had time to reach the server, and be stored if it could.
    await sleep(1_500);
    const delivered = proxy.stats().bytesUp - bytesUpAtPut;
    assert.ok(delivered < CHUNK_SIZE, `the server got ${delivered} bytes of the PUT, less than its body`);
    assert.equal(await objectExists(client.s3, BUCKET, key), false, 'the aborted chunk is not in the bucket');
  });
});
