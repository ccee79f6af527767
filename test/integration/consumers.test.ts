import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../scripts/local-servers';
import type { StreamUploadInput } from '../../src/stream/types';
import { assertValidManifest, getObject, readManifestHead } from '../support/bucket';
import { sha256File } from '../support/media';
import { startStack, startStream, startWorker, tempDir, type TestStack } from '../support/stack';

/** What downstream systems get: the completion webhook and the assembled recording. */
describe('for downstream consumers', () => {
  let stack: TestStack;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  let watchDir: string;
  let receiver: http.Server;
  const received: Array<{ status: number; body: string }> = [];

  before(async () => {
    stack = await startStack();
    watchDir = tempDir('consumers');
    const port = await freePort();
    // Fails the first delivery, as a consumer that is briefly down would: the workflow must retry.
    receiver = http.createServer((request, response) => {
      let body = '';
      request.on('data', (data) => (body += data));
      request.on('end', () => {
        const status = received.length === 0 ? 503 : 204;
        received.push({ status, body });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
    worker = await startWorker(stack, {
      WATCH_DIR: watchDir,
      COMPLETION_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/recordings?token=secret-token`,
    });
  });
  after(async () => {
    await worker?.stop();
    await stack?.stop();
    receiver?.close();
  });

  async function upload(relPath: string, bytes: Buffer, options: Partial<StreamUploadInput>) {
    const file = path.join(watchDir, relPath);
    fs.writeFileSync(file, bytes);
    const { handle, stream } = await startStream(stack, worker, relPath, {
      chunkSize: 64 * 1024,
      idleTimeoutMs: 500,
      ...options,
    });
    return { file, stream, summary: await handle.result() };
  }

  const bytes = (size: number) =>
    createHash('sha256')
      .update(String(size))
      .digest()
      .toString('hex')
      .repeat(Math.ceil(size / 64))
      .slice(0, size);

  test('the final manifest is POSTed to the completion webhook, retried until it is accepted', async () => {
    const { summary } = await upload('notified.mp4', Buffer.from(bytes(200_000)), { notifyCompletion: true });
    assert.equal(received.length, 2, 'one failed delivery, one accepted');
    const delivered: unknown = JSON.parse(received[1].body);
    assertValidManifest(delivered);
    assert.equal(delivered.status, 'complete');
    assert.deepEqual(delivered, await readManifestHead(stack.s3, stack.bucket, summary.manifestKey));
  });

  test('ASSEMBLE composes the recording server-side from chunks of 5 MiB or more', async () => {
    const { file, summary } = await upload('assembled-big.mp4', Buffer.from(bytes(12 * 2 ** 20 + 333)), {
      chunkSize: 5 * 2 ** 20,
      assemble: true,
    });
    assert.equal(summary.assembled?.copiedParts, 3);
    assert.equal(summary.assembled?.uploadedParts, 0);
    const whole = await getObject(stack.s3, stack.bucket, summary.assembled!.key);
    assert.equal(createHash('sha256').update(whole).digest('hex'), await sha256File(file));
    assert.equal(summary.assembled?.sha256, await sha256File(file));
  });

  test('ASSEMBLE with chunks under the 5 MiB part minimum sends parts from the file instead', async () => {
    const { file, summary } = await upload('assembled-small.mp4', Buffer.from(bytes(6 * 2 ** 20 + 7)), {
      chunkSize: 256 * 1024,
      assemble: true,
    });
    assert.equal(summary.assembled?.copiedParts, 0);
    assert.equal(summary.assembled?.uploadedParts, 2);
    const whole = await getObject(stack.s3, stack.bucket, summary.assembled!.key);
    assert.equal(createHash('sha256').update(whole).digest('hex'), await sha256File(file));
  });
});
