import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import type { ChunkRecordPage } from '../../src/stream/manifest';
import { assertValidManifest, downloadStreamSha256, listKeys, readManifestObject } from '../support/bucket';
import { sha256File } from '../support/media';
import { enableVersioning, versionHistory, type ObjectVersion } from '../support/object-versions';
import { startStack, startStream, startWorker, tempDir, type TestStack, type TestWorker } from '../support/stack';
import { waitUntil } from '../support/wait';

const CHUNK_SIZE = 64 * 1024;
/** Two upload batches (16 chunks each at this size): the failure is in the middle of the second. */
const FULL_CHUNKS = 20;
const FAILING_CHUNK = 17;

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const chunkName = (index: number) => `/chunks/${String(index).padStart(6, '0')}`;

interface Exchange {
  method: string;
  /** The request's path, decoded, without its query. */
  path: string;
}

/**
 * A TCP relay between the app and MinIO that reads, on the way, each HTTP/1.1 request line and
 * the status line of its answer (requests on one connection follow each other: the app does not
 * pipeline). The bytes pass unchanged; what it can do to the link is what a network does: hold a
 * request's bytes, delay them, reset the connection. It counts the chunk PUTs in flight at once.
 */
class HttpTap {
  readonly answered: Array<Exchange & { status: number }> = [];
  chunkPutsInFlight = 0;
  mostChunkPutsInFlight = 0;
  /** Each chunk PUT is held this long before it is forwarded, so that concurrent uploads overlap. */
  delayChunkPutsMs = 0;
  /** A request this selects (once) is held, unforwarded, until `resetHeld`. */
  holdOnce?: (exchange: Exchange) => boolean;
  private held?: { client: net.Socket; server: net.Socket };
  private readonly sockets = new Set<net.Socket>();
  private server?: net.Server;
  port = 0;

  constructor(private readonly target: number) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get holding(): boolean {
    return this.held !== undefined;
  }

  answeredOk(method: string, suffix: string): boolean {
    return this.answered.some((a) => a.method === method && a.path.endsWith(suffix) && a.status === 200);
  }

  /** The held request's connection is reset (TCP RST), as a network failure would. */
  resetHeld(): void {
    const held = this.held;
    this.held = undefined;
    held?.client.resetAndDestroy();
    held?.server.destroy();
  }

  async start(): Promise<void> {
    this.server = net.createServer((client) => this.relay(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private isChunkPut(exchange: Exchange): boolean {
    return exchange.method === 'PUT' && /\/chunks\/\d{6}$/.test(exchange.path);
  }

  private relay(client: net.Socket): void {
    const server = net.connect(this.target, '127.0.0.1');
    this.sockets.add(client).add(server);
    let current: Exchange | undefined;
    const finish = () => {
      if (current && this.isChunkPut(current)) this.chunkPutsInFlight--;
      current = undefined;
    };
    const send = (from: net.Socket, to: net.Socket, data: Buffer) => {
      if (!to.write(data)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    };
    client.on('data', (data: Buffer) => {
      if (current) return send(client, server, data);
      const [method = '', target = ''] = data.toString('latin1', 0, Math.min(data.length, 4096)).split(' ', 2);
      current = { method, path: decodeURIComponent(target.split('?')[0]) };
      if (this.isChunkPut(current)) {
        this.chunkPutsInFlight++;
        this.mostChunkPutsInFlight = Math.max(this.mostChunkPutsInFlight, this.chunkPutsInFlight);
      }
      if (this.holdOnce?.(current)) {
        this.holdOnce = undefined;
        this.held = { client, server };
        client.pause();
        return;
      }
      if (this.isChunkPut(current) && this.delayChunkPutsMs > 0) {
        client.pause();
        setTimeout(() => {
          send(client, server, data);
          client.resume();
        }, this.delayChunkPutsMs);
        return;
      }
      send(client, server, data);
    });
    server.on('data', (data: Buffer) => {
      const head = data.toString('latin1', 0, Math.min(data.length, 64));
      if (current && head.startsWith('HTTP/1.1 ') && !head.startsWith('HTTP/1.1 100')) {
        this.answered.push({ ...current, status: Number(head.slice(9, 12)) });
        finish();
      }
      send(server, client, data);
    });
    client.on('end', () => server.end());
    server.on('end', () => client.end());
    const teardown = () => {
      finish();
      client.destroy();
      server.destroy();
      this.sockets.delete(client);
      this.sockets.delete(server);
    };
    client.on('error', teardown).on('close', teardown);
    server.on('error', teardown).on('close', teardown);
  }
}

/**
 * UPLOAD_CONCURRENCY > 1 under failure: a chunk's PUT in the middle of a batch is held on the
 * link while the later chunks of the batch are stored, and then its connection is reset (or the
 * stream is cancelled meanwhile). Every metadata.json ever written (the bucket is versioned, so
 * the server keeps them all) must list a contiguous prefix of chunks, each stored by then.
 */
describe('concurrent chunk uploads under failure', () => {
  let stack: TestStack;
  let watchDir: string;
  let tap: HttpTap;
  let worker: TestWorker;

  before(async () => {
    stack = await startStack();
    await enableVersioning(stack.s3, stack.bucket);
    watchDir = tempDir('upload-concurrency');
    tap = new HttpTap(stack.minio.port);
    await tap.start();
    worker = await startWorker(stack, {
      WATCH_DIR: watchDir,
      CHUNK_SIZE: String(CHUNK_SIZE),
      S3_ENDPOINT: tap.endpoint,
      UPLOAD_CONCURRENCY: '4',
      MAX_CONCURRENT_UPLOADS: '8',
      TEMPORAL_TASK_QUEUE: `concurrency-${process.pid}`,
    });
  });
  after(async () => {
    tap?.resetHeld();
    await tap?.close();
    await worker?.stop();
    await stack?.stop();
  });

  function writeRecording(relPath: string): string {
    const file = path.join(watchDir, relPath);
    fs.writeFileSync(file, randomBytes(FULL_CHUNKS * CHUNK_SIZE + 1000));
    return file;
  }

  async function getVersion(key: string, version: ObjectVersion): Promise<Buffer> {
    const object = await stack.s3.send(
      new GetObjectCommand({ Bucket: stack.bucket, Key: key, VersionId: version.versionId }),
    );
    return Buffer.from(await object.Body!.transformToByteArray());
  }

  /**
   * Reads back every version of the stream's metadata.json, with the chunk-record pages as they
   * stood when it was written, and checks that each lists chunks 0..n-1, each of them already
   * stored with its listed sha256. Returns the statuses, oldest first.
   */
  async function assertEveryManifestListsAStoredPrefix(prefix: string): Promise<string[]> {
    const history = await versionHistory(stack.s3, stack.bucket, `${prefix}/`);
    const manifests = (history.get(`${prefix}/metadata.json`) ?? []).filter((v) => !v.deleteMarker);
    assert.ok(manifests.length > 0, 'metadata.json was written');
    const statuses: string[] = [];
    for (const version of manifests) {
      const manifest: unknown = JSON.parse((await getVersion(`${prefix}/metadata.json`, version)).toString('utf8'));
      assertValidManifest(manifest);
      statuses.push(manifest.status);
      const { keyPrefix, perPage, pages } = manifest.chunkRecords;
      const chunks = [];
      for (let page = 0; page < pages; page++) {
        const pageKey = `${keyPrefix}${String(page).padStart(6, '0')}.json`;
        // Pages are written before the metadata.json that counts them.
        const pageVersion = (history.get(pageKey) ?? [])
          .filter((v) => !v.deleteMarker && v.lastModifiedMs <= version.lastModifiedMs)
          .at(-1);
        assert.ok(pageVersion, `${pageKey} was stored before metadata.json version ${version.versionId}`);
        const contents = JSON.parse((await getVersion(pageKey, pageVersion)).toString('utf8')) as ChunkRecordPage;
        chunks.push(...contents.chunks.slice(0, Math.min(perPage, manifest.chunkCount - page * perPage)));
      }
      const what = `metadata.json (${manifest.status}, ${manifest.chunkCount} chunks)`;
      assert.deepEqual(
        chunks.map((chunk) => chunk.index),
        Array.from({ length: manifest.chunkCount }, (_, i) => i),
        `${what} lists a contiguous prefix of chunks`,
      );
      for (const chunk of chunks) {
        const stored = (history.get(chunk.key) ?? []).filter(
          (v) => !v.deleteMarker && v.lastModifiedMs <= version.lastModifiedMs,
        );
        assert.ok(stored.length > 0, `${what} lists chunk ${chunk.index}, which was not stored yet`);
        assert.equal(
          sha256(await getVersion(chunk.key, stored.at(-1)!)),
          chunk.sha256,
          `${what}: chunk ${chunk.index}`,
        );
      }
    }
    return statuses;
  }

  /**
   * Starts a stream of `relPath` whose chunk FAILING_CHUNK hangs on the link, and returns once the
   * later chunks of its batch (18 and 19) are stored while it hangs.
   */
  async function holdFailingChunkWhileLaterOnesStore(
    relPath: string,
    { delayChunkPutsMs, idleTimeoutMs }: { delayChunkPutsMs: number; idleTimeoutMs: number },
  ) {
    tap.delayChunkPutsMs = delayChunkPutsMs;
    tap.holdOnce = ({ method, path: key }) =>
      method === 'PUT' && key.includes(`/${relPath}/`) && key.endsWith(chunkName(FAILING_CHUNK));
    const started = await startStream(stack, worker, relPath, { idleTimeoutMs, manifestIntervalMs: 0 });
    await waitUntil(() => tap.holding, 30_000);
    await waitUntil(
      () => [18, 19].every((index) => tap.answeredOk('PUT', `${started.stream.prefix}${chunkName(index)}`)),
      30_000,
    );
    return started;
  }

  test('a chunk reset mid-batch while later ones are stored: manifests list stored prefixes only, and the stream completes byte for byte', async () => {
    const file = writeRecording('reset.mp4');
    const { handle, stream } = await holdFailingChunkWhileLaterOnesStore('reset.mp4', {
      delayChunkPutsMs: 100,
      idleTimeoutMs: 2000,
    });
    const storedMeanwhile = await listKeys(stack.s3, stack.bucket, `${stream.prefix}/chunks/`);
    assert.ok(!storedMeanwhile.some((key) => key.endsWith(chunkName(FAILING_CHUNK))), 'the held chunk is not stored');
    tap.resetHeld();

    const summary = await handle.result();
    assert.equal(summary.status, 'complete');
    assert.ok(
      tap.answered.filter((a) => a.method === 'PUT' && a.path.endsWith(`${stream.prefix}${chunkName(FAILING_CHUNK)}`))
        .length === 1,
      'the reset chunk was sent again, once',
    );
    assert.equal(tap.mostChunkPutsInFlight, 4, 'UPLOAD_CONCURRENCY chunk PUTs were in flight at once');
    const manifest = await readManifestObject(stack.s3, stack.bucket, summary.manifestKey);
    assert.equal(manifest.chunkCount, FULL_CHUNKS + 1);
    assert.equal(await downloadStreamSha256(stack.s3, stack.bucket, manifest), await sha256File(file));
    const statuses = await assertEveryManifestListsAStoredPrefix(stream.prefix);
    assert.equal(statuses.at(-1), 'complete');
  });

  test('cancelled while a chunk mid-batch hangs and later ones are stored: the cancelled manifest lists the stored prefix, and the bucket only it', async () => {
    writeRecording('cancel.mp4');
    const { handle, stream } = await holdFailingChunkWhileLaterOnesStore('cancel.mp4', {
      delayChunkPutsMs: 0,
      idleTimeoutMs: 60_000,
    });
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    tap.resetHeld();

    const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);
    assert.equal(manifest.status, 'cancelled');
    assert.ok(
      manifest.chunkCount < FAILING_CHUNK,
      `only chunks before the hung one are listed (${manifest.chunkCount})`,
    );
    assert.deepEqual(
      await listKeys(stack.s3, stack.bucket, `${stream.prefix}/chunks/`),
      manifest.chunks.map((chunk) => chunk.key),
      'the bucket holds exactly the listed chunks: the later ones stored out of order are gone',
    );
    const statuses = await assertEveryManifestListsAStoredPrefix(stream.prefix);
    assert.equal(statuses.at(-1), 'cancelled');
  });

  test('MAX_CONCURRENT_UPLOADS bounds the chunk PUTs of all streams of a process together', async () => {
    // This process's own link, so that only its PUTs are counted.
    const limitedTap = new HttpTap(stack.minio.port);
    await limitedTap.start();
    limitedTap.delayChunkPutsMs = 150;
    const limited = await startWorker(stack, {
      WATCH_DIR: watchDir,
      CHUNK_SIZE: String(CHUNK_SIZE),
      S3_ENDPOINT: limitedTap.endpoint,
      UPLOAD_CONCURRENCY: '4',
      MAX_CONCURRENT_UPLOADS: '2',
      TEMPORAL_TASK_QUEUE: `limited-${process.pid}`,
    });
    try {
      const files = ['limit-a.mp4', 'limit-b.mp4'].map((relPath) => ({ relPath, file: writeRecording(relPath) }));
      const streams = await Promise.all(
        files.map(({ relPath }) => startStream(stack, limited, relPath, { idleTimeoutMs: 1000 })),
      );
      const summaries = await Promise.all(streams.map(({ handle }) => handle.result()));
      for (const [i, summary] of summaries.entries()) {
        const manifest = await readManifestObject(stack.s3, stack.bucket, summary.manifestKey);
        assert.equal(await downloadStreamSha256(stack.s3, stack.bucket, manifest), await sha256File(files[i].file));
      }
      const chunkPuts = limitedTap.answered.filter((a) => a.method === 'PUT' && /\/chunks\/\d{6}$/.test(a.path));
      assert.ok(chunkPuts.length >= 2 * (FULL_CHUNKS + 1), `every chunk went through this link (${chunkPuts.length})`);
      const streamOf = (a: { path: string }) => files.findIndex(({ relPath }) => a.path.includes(`/${relPath}/`));
      const order = chunkPuts.map(streamOf);
      assert.ok(
        order.indexOf(1) < order.lastIndexOf(0) && order.indexOf(0) < order.lastIndexOf(1),
        `the two streams uploaded at the same time: ${order.join('')}`,
      );
      // Two streams of four lanes each would put eight at once; the process allows two.
      assert.equal(
        limitedTap.mostChunkPutsInFlight,
        2,
        'at most MAX_CONCURRENT_UPLOADS chunk PUTs at once, and that many',
      );
    } finally {
      await limited.stop();
      await limitedTap.close();
    }
  });

  test('UPLOAD_CONCURRENCY=1 stores a backlog strictly in order, one chunk PUT at a time', async () => {
    const relPath = 'in-order.mp4';
    const file = writeRecording(relPath);
    // Each PUT is held a little, so that a second one in flight would overlap it.
    tap.delayChunkPutsMs = 50;
    tap.mostChunkPutsInFlight = 0;
    const before = tap.answered.length;
    try {
      const { handle, stream } = await startStream(stack, worker, relPath, {
        idleTimeoutMs: 500,
        uploadConcurrency: 1,
      });
      const summary = await handle.result();
      const manifest = await readManifestObject(stack.s3, stack.bucket, summary.manifestKey);
      assert.equal(await downloadStreamSha256(stack.s3, stack.bucket, manifest), await sha256File(file));
      const puts = tap.answered
        .slice(before)
        .filter((a) => a.method === 'PUT' && a.path.includes(`${stream.prefix}/chunks/`) && /\d{6}$/.test(a.path))
        .map((a) => Number(a.path.slice(-6)));
      assert.ok(puts.length >= FULL_CHUNKS, `every chunk went through the link (${puts.length})`);
      assert.deepEqual(
        puts,
        [...puts].sort((a, b) => a - b),
        'stored in index order',
      );
      assert.equal(tap.mostChunkPutsInFlight, 1, 'one chunk PUT at a time');
    } finally {
      tap.delayChunkPutsMs = 0;
    }
  });
});
