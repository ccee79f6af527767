import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { TOOLS_BIN } from '../../scripts/local-servers';
import { progressQuery } from '../../src/workflows/definitions';
import { readManifestObject } from '../support/bucket';
import { startStack, startStream, startWorker, tempDir, type TestStack } from '../support/stack';
import { waitUntil } from '../support/wait';

const README = path.resolve(__dirname, '..', '..', 'README.md');

/** The `temporal ...` lines of the README's CLI block, in order. */
function readmeCliCommands(): string[] {
  const text = fs.readFileSync(README, 'utf8');
  const block = /<!-- cli-commands[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(text);
  assert.ok(block, 'README has a cli-commands block');
  return block[1].split('\n').filter((line) => line.startsWith('temporal '));
}

let stack: TestStack;
let worker: Awaited<ReturnType<typeof startWorker>>;
let watchDir: string;

before(async () => {
  stack = await startStack();
  watchDir = tempDir('readme-cli');
  worker = await startWorker(stack, { WATCH_DIR: watchDir, CHUNK_SIZE: '64KiB' });
});
after(async () => {
  await worker?.stop();
  await stack?.stop();
});

test("the README's Temporal CLI commands list, describe, query and cancel a live stream", async () => {
  const commands = readmeCliCommands();
  assert.deepEqual(
    commands.map((command) => command.split(' ').slice(0, 3).join(' ')),
    [
      'temporal workflow list',
      'temporal workflow describe',
      'temporal workflow query',
      'temporal workflow cancel',
      'temporal workflow show',
    ],
  );
  const file = path.join(watchDir, 'cli.mp4');
  fs.writeFileSync(file, Buffer.alloc(64 * 1024 * 3 + 1, 'v'));
  const { handle, stream } = await startStream(stack, worker, 'cli.mp4', {
    chunkSize: 64 * 1024,
    idleTimeoutMs: 60_000,
  });
  await waitUntil(async () => (await handle.query(progressQuery)).chunksUploaded >= 3, 60_000);

  // Asynchronously: the worker answering the query runs in this process.
  const env = {
    ...process.env,
    PATH: `${TOOLS_BIN}:${process.env.PATH}`,
    TEMPORAL_ADDRESS: stack.temporal.address,
    WORKFLOW_ID: stream.workflowId,
  };
  const outputs: string[] = [];
  for (const command of commands)
    outputs.push((await promisify(execFile)('sh', ['-c', command], { encoding: 'utf8', env })).stdout);
  assert.match(outputs[0], /cli\.mp4/, 'list shows the running stream');
  assert.match(outputs[1], /StreamUploadWorkflow/);
  assert.match(outputs[2], /"chunksUploaded":\s*3/, 'the progress query answers');
  await assert.rejects(handle.result(), WorkflowFailedError);
  assert.match(outputs[4], /WorkflowExecutionCancelRequested/);
  const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);
  assert.equal(manifest.status, 'cancelled');
  assert.equal(manifest.chunkCount, 3);
});
