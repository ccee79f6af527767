import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { freePort } from '../../scripts/local-servers';
import type { ActivityDeps } from '../../src/activities';
import { notifyCompletion } from '../../src/activities/notify-completion';
import { createS3Client } from '../../src/s3';
import { WEBHOOK_ATTEMPTS } from '../../src/stream/completion-webhook';
import type { StreamUploadInput } from '../../src/stream/types';
import { assertValidManifest, getObject, readManifestHead } from '../support/bucket';
import { recordHistory } from '../support/histories';
import { sha256File } from '../support/media';
import { startStack, startStream, startWorker, tempDir, type TestStack } from '../support/stack';

/** What downstream systems get: the completion webhook and the assembled recording. */
describe('for downstream consumers', () => {
  let stack: TestStack;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  let watchDir: string;
  let receiver: http.Server;
  const received: Array<{ status: number; body: string; url: string; authorization?: string }> = [];
  /** The receiver's next answers, in order; 204 once they are used up. */
  const answers: number[] = [];

  before(async () => {
    stack = await startStack();
    watchDir = tempDir('consumers');
    const port = await freePort();
    receiver = http.createServer((request, response) => {
      let body = '';
      request.on('data', (data) => (body += data));
      request.on('end', () => {
        const status = answers.shift() ?? 204;
        received.push({ status, body, url: request.url ?? '', authorization: request.headers.authorization });
        const location = status >= 300 && status < 400 ? { Location: `http://127.0.0.1:${port}/elsewhere` } : {};
        response.writeHead(status, location).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
    worker = await startWorker(stack, {
      WATCH_DIR: watchDir,
      COMPLETION_WEBHOOK_URL: `http://consumer:p%40ss@127.0.0.1:${port}/hooks/recordings?token=secret-token`,
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

  const webhookOutcomes = async () =>
    Object.fromEntries(
      (await worker.metrics.completionWebhook.get()).values.map((value) => [value.labels.outcome, value.value]),
    );

  test('the final manifest is POSTed to the completion webhook, its credentials in a header, retried until it is accepted', async () => {
    received.length = 0;
    // A consumer briefly down, as one restarting would be: the workflow must retry.
    answers.push(503);
    const { summary, stream } = await upload('notified.mp4', Buffer.from(bytes(200_000)), { notifyCompletion: true });
    assert.equal(received.length, 2, 'one failed delivery, one accepted');
    const delivered: unknown = JSON.parse(received[1].body);
    assertValidManifest(delivered);
    assert.equal(delivered.status, 'complete');
    assert.deepEqual(delivered, await readManifestHead(stack.s3, stack.bucket, summary.manifestKey));
    assert.deepEqual(summary.completionWebhook, { delivered: true });
    assert.equal(received[1].url, '/hooks/recordings?token=secret-token');
    assert.equal(received[1].authorization, `Basic ${Buffer.from('consumer:p@ss').toString('base64')}`);
    recordHistory(stack.client.workflow.getHandle(stream.workflowId), stack.temporal.address, 'webhook-retried');
  });

  test('a webhook that refuses the manifest, or redirects it, is not retried, and the stream stays complete', async () => {
    const before = await webhookOutcomes();
    for (const [relPath, answer, error] of [
      ['refused.mp4', 404, /refused the manifest: 404/],
      ['redirected.mp4', 302, /answered 302, a redirect, which is not followed/],
    ] as const) {
      received.length = 0;
      answers.push(answer);
      const { summary, stream } = await upload(relPath, Buffer.from(bytes(100_000)), { notifyCompletion: true });
      assert.equal(received.length, 1, `${relPath}: one delivery, not retried, the redirect not followed`);
      assert.equal(summary.status, 'complete');
      assert.equal(summary.completionWebhook?.delivered, false);
      assert.match(summary.completionWebhook?.error ?? '', error);
      assert.doesNotMatch(summary.completionWebhook?.error ?? '', /secret-token|p@ss|p%40ss/);
      const description = await stack.client.workflow.getHandle(stream.workflowId).describe();
      assert.equal(description.status.name, 'COMPLETED');
      if (answer === 404)
        recordHistory(stack.client.workflow.getHandle(stream.workflowId), stack.temporal.address, 'webhook-refused');
    }
    assert.equal((await webhookOutcomes()).rejected - (before.rejected ?? 0), 2);
  });

  test('408, 429, 5xx and no answer are retried; the last of the 8 attempts that fails counts as given up', async () => {
    const { stream } = await upload('given-up.mp4', Buffer.from(bytes(100_000)), {});
    const s3 = createS3Client(worker.config.s3);
    const attempt = async (number: number, url = worker.config.completionWebhookUrl!) => {
      // The activity as Temporal runs it at that attempt, against the real bucket and receiver.
      const deps = { s3, bucket: stack.bucket, metrics: worker.metrics, completionWebhookUrl: url };
      const environment = new MockActivityEnvironment({ attempt: number });
      return environment.run(notifyCompletion, deps as unknown as ActivityDeps, stream).then(
        () => 'delivered',
        (err: Error) => (err instanceof ApplicationFailure ? `rejected: ${err.message}` : `retried: ${err.message}`),
      );
    };
    try {
      const before = await webhookOutcomes();
      answers.push(408, 429, 503);
      assert.equal(await attempt(1), 'retried: completion webhook answered 408');
      assert.equal(await attempt(2), 'retried: completion webhook answered 429');
      assert.equal(await attempt(WEBHOOK_ATTEMPTS), 'retried: completion webhook answered 503');
      // A consumer that does not answer at all (nothing listens on that port).
      const silent = `http://127.0.0.1:${await freePort()}/hook`;
      assert.match(await attempt(3, silent), /^retried: completion webhook unreachable/);
      const after = await webhookOutcomes();
      assert.equal(after.failed - (before.failed ?? 0), 3, 'the attempts before the last count as failed');
      assert.equal(after.given_up - (before.given_up ?? 0), 1, 'the last one counts as given up');
    } finally {
      s3.destroy();
    }
  });

  test('ASSEMBLE composes the recording server-side from chunks of 5 MiB or more', async () => {
    const { file, stream, summary } = await upload('assembled-big.mp4', Buffer.from(bytes(12 * 2 ** 20 + 333)), {
      chunkSize: 5 * 2 ** 20,
      assemble: true,
    });
    recordHistory(stack.client.workflow.getHandle(stream.workflowId), stack.temporal.address, 'assembled');
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
