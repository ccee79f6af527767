import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { freePort } from '../../scripts/local-servers';
import { FollowedStreams } from '../../src/followed-streams';
import { createLogger } from '../../src/logger';
import { streamRef } from '../../src/stream/identity';
import { StreamPathKey } from '../../src/stream/search-attributes';
import { progressQuery, STREAM_UPLOAD_WORKFLOW } from '../../src/workflows/definitions';
import { createStreamSignaler, streamOptionsFrom } from '../../src/watcher/stream-signaler';
import { downloadStreamSha256, readManifestObject } from '../support/bucket';
import { sha256File } from '../support/media';
import { startStack, startWorker, tempDir, type TestStack } from '../support/stack';
import { waitUntil } from '../support/wait';

const ROOT = path.resolve(__dirname, '..', '..');
const CHUNK_SIZE = 64 * 1024;

let stack: TestStack;
let worker: Awaited<ReturnType<typeof startWorker>>;
let watchDir: string;
let env: Record<string, string>;

before(async () => {
  stack = await startStack();
  watchDir = tempDir('cli');
  env = stack.env({
    WATCH_DIR: watchDir,
    CHUNK_SIZE: String(CHUNK_SIZE),
    STREAM_IDLE_TIMEOUT: '60s',
    TEMPORAL_TASK_QUEUE: `cli-${process.pid}`,
  });
  worker = await startWorker(stack, env);
});
after(async () => {
  await worker?.stop();
  await stack?.stop();
});

/** `npm run cli -- <args>`, as the README shows it; resolves with the exit code and output. */
async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'cli', '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env, ...extraEnv },
    });
    return { code: 0, out: stdout };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout + failed.stderr };
  }
}

async function startStream(relPath: string, chunks: number) {
  const file = path.join(watchDir, relPath);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.from(Array.from({ length: chunks * CHUNK_SIZE + 5 }, (_, i) => (i * 13) % 256)));
  const stats = fs.statSync(file);
  const signalStream = createStreamSignaler({
    client: stack.client,
    taskQueue: worker.config.temporal.taskQueue,
    s3Prefix: '',
    streamOptions: { ...streamOptionsFrom(worker.config), chunkSize: CHUNK_SIZE, idleTimeoutMs: 60_000 },
    logger: createLogger('warn'),
    followed: new FollowedStreams(),
  });
  assert.ok(
    await signalStream({
      relPath,
      identity: { ino: stats.ino, birthtimeMs: stats.birthtimeMs },
      snapshot: { size: stats.size, mtimeMs: stats.mtimeMs },
    }),
  );
  return { file, stream: streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, '') };
}

test('list, status, pause, resume and cancel a live stream by its path', async () => {
  const { stream, file } = await startStream('cam/live one.mp4', 3);
  await waitUntil(async () => (await cli(['status', 'cam/live one.mp4'])).out.includes('"chunksUploaded": 3'));
  // The recording goes on: its follow uploads two more chunks, and status shows them before the
  // follow ends (its heartbeat carries them; the workflow learns them only at the follow's end).
  fs.appendFileSync(file, Buffer.alloc(2 * CHUNK_SIZE, 9));
  await waitUntil(async () => (await cli(['status', 'cam/live one.mp4'])).out.includes('"chunksUploaded": 5'));

  const listed = await cli(['list']);
  assert.equal(listed.code, 0);
  assert.match(listed.out, /WORKFLOW ID\s+STATUS\s+UPLOADED\s+HOST\s+PATH/);
  assert.ok(listed.out.includes(stream.workflowId) && listed.out.includes('cam/live one.mp4'), listed.out);

  assert.equal((await cli(['pause', stream.workflowId])).code, 0);
  await waitUntil(async () => (await cli(['status', stream.workflowId])).out.includes('"status": "paused"'));
  assert.equal((await cli(['resume', 'cam/live one.mp4'])).code, 0);
  await waitUntil(async () => (await cli(['status', stream.workflowId])).out.includes('"status": "recording"'));
  assert.equal((await cli(['cancel', stream.workflowId])).code, 0);
  await waitUntil(async () => (await cli(['status', stream.workflowId])).out.includes('"execution": "CANCELLED"'));
  assert.equal(
    (await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`)).status,
    'cancelled',
  );
});

test('a name with a quote and control characters is found by its path and printed escaped, never raw', async () => {
  // ESC, C1's CSI (U+009B, which a terminal takes as ESC [) and a right-to-left override.
  const relPath = "cam/it's \u001b[2J\u202eclip\u009b2J.mp4";
  const raw = (out: string) => ['\u001b', '\u009b', '\u202e'].some((char) => out.includes(char));
  const { stream } = await startStream(relPath, 1);
  await waitUntil(async () => (await cli(['status', relPath])).out.includes('"chunksUploaded": 1'));
  const listed = await cli(['list']);
  assert.equal(listed.code, 0);
  assert.ok(listed.out.includes("cam/it's \\u{1b}[2J\\u{202e}clip\\u{9b}2J.mp4"), listed.out);
  assert.ok(!raw(listed.out), `no raw escape or override: ${listed.out}`);
  const unknown = await cli(['status', 'cam/\u001b[31mmissing.mp4']);
  assert.equal(unknown.code, 2);
  assert.ok(unknown.out.includes('\\u{1b}[31mmissing.mp4') && !unknown.out.includes('\u001b'), unknown.out);
  assert.equal((await cli(['cancel', stream.workflowId])).code, 0);
  await waitUntil(async () => (await cli(['status', relPath])).out.includes('"execution": "CANCELLED"'));

  // JSON output escapes them too, and still parses to the names.
  const status = await cli(['status', relPath]);
  assert.equal(status.code, 0);
  assert.ok(!raw(status.out), `status: ${status.out}`);
  assert.equal((JSON.parse(status.out) as { workflowId: string }).workflowId, stream.workflowId);
  const printed = await cli(['chunks', relPath]);
  assert.equal(printed.code, 0);
  assert.ok(!raw(printed.out), `chunks: ${printed.out}`);
  const keys = printed.out
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { key: string }).key);
  assert.ok(keys.length > 0 && keys.every((key) => key.startsWith(`${stream.prefix}/`)), printed.out);
});

test('reupload sends back a chunk that went missing from the bucket, and only that one', async () => {
  const { file, stream } = await startStream('finished.mp4', 4);
  const handle = stack.client.workflow.getHandle(stream.workflowId);
  await waitUntil(async () => (await handle.query(progressQuery)).chunksUploaded === 4);
  await handle.cancel();
  await waitUntil(
    async () =>
      (await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`).catch(() => null))?.status ===
      'cancelled',
  );
  const firstChunk = `${stream.prefix}/chunks/000000`;
  const before = (await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: firstChunk }))).LastModified;
  await stack.s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: `${stream.prefix}/chunks/000001` }));

  const started = await cli(['reupload', file], { STREAM_IDLE_TIMEOUT: '1s' });
  assert.equal(started.code, 0, started.out);
  assert.equal((await handle.result()).status, 'complete');
  const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);
  assert.equal(await downloadStreamSha256(stack.s3, stack.bucket, manifest), await sha256File(file));
  const after = (await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: firstChunk }))).LastModified;
  assert.equal(after?.getTime(), before?.getTime(), 'an identical chunk is not sent again');

  const printed = await cli(['chunks', 'finished.mp4']);
  assert.equal(printed.code, 0, printed.out);
  assert.deepEqual(
    printed.out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown),
    manifest.chunks,
    'chunks prints every chunk record, one per line',
  );
});

test('a path too long for a workflow id is found by its path, and chunks prints its records', async () => {
  const folders = Array.from({ length: 3 }, (_, i) => `${'a-folder-with-a-long-name-'.repeat(8)}${i}`);
  const relPath = [...folders, 'camera 9.mp4'].join('/');
  const { stream } = await startStream(relPath, 2);
  assert.ok(Buffer.byteLength(stream.workflowId) <= 255, stream.workflowId);
  await waitUntil(async () => (await cli(['status', relPath])).out.includes('"chunksUploaded": 2'));
  assert.match((await cli(['status', relPath])).out, /"polled": true/, 'its host is up');
  const listed = await cli(['list']);
  const row = listed.out.split('\n').find((line) => line.startsWith(stream.workflowId));
  assert.ok(row, listed.out);
  assert.ok(row.includes(` ${worker.config.hostId} `) && !row.includes('no worker'), row);
  assert.equal((await cli(['cancel', relPath])).code, 0);
  await waitUntil(
    async () =>
      (await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`).catch(() => null))?.status ===
      'cancelled',
  );
  const printed = await cli(['chunks', relPath]);
  assert.equal(printed.code, 0, printed.out);
  assert.deepEqual(
    printed.out
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { index: number }).index),
    [0, 1],
  );
});

test('status and list show a stream whose host is gone for good, and what to do', async () => {
  const relPath = 'gone-host.mp4';
  const file = path.join(watchDir, relPath);
  fs.writeFileSync(file, Buffer.alloc(CHUNK_SIZE + 5, 7));
  const stats = fs.statSync(file);
  const stream = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, '');
  const { taskQueue } = worker.config.temporal;
  // Started by a host that has since gone: its activities wait on a queue nobody polls.
  const handle = await stack.client.workflow.start(STREAM_UPLOAD_WORKFLOW, {
    workflowId: stream.workflowId,
    taskQueue,
    args: [
      {
        stream,
        ...streamOptionsFrom(worker.config),
        fileTaskQueue: `${taskQueue}@gone-host`,
        file: { size: stats.size, mtimeMs: stats.mtimeMs },
      },
    ],
    typedSearchAttributes: [{ key: StreamPathKey, value: relPath }],
  });
  const shown = await cli(['status', relPath]);
  assert.equal(shown.code, 0, shown.out);
  const host = (JSON.parse(shown.out) as { host: { taskQueue: string; polled: boolean; hint?: string } }).host;
  assert.deepEqual(
    { taskQueue: host.taskQueue, polled: host.polled },
    { taskQueue: `${taskQueue}@gone-host`, polled: false },
  );
  assert.match(host.hint ?? '', /no worker polls .*@gone-host: start the app on that host/);
  const listed = await cli(['list']);
  assert.equal(listed.code, 0, listed.out);
  const row = listed.out.split('\n').find((line) => line.startsWith(stream.workflowId));
  assert.match(row ?? listed.out, / gone-host \(no worker\) /, 'list marks the stream whose host is gone');
  assert.ok(listed.out.includes(`\n\n${host.hint}\n`), listed.out);
  await handle.terminate('test over');
});

test('clear errors with a non-zero exit: unknown stream, unreachable server, bad usage', async () => {
  const unknown = await cli(['status', 'stream:nothing@1-2']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.out, /unknown stream "stream:nothing@1-2"/);
  const byPath = await cli(['pause', 'no/such.mp4']);
  assert.equal(byPath.code, 2);
  assert.match(byPath.out, /unknown stream "no\/such.mp4"/);
  const unreachable = await cli(['list'], { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
  assert.equal(unreachable.code, 2);
  assert.match(unreachable.out, /cannot reach Temporal at 127\.0\.0\.1:\d+/);
  const usage = await cli(['frobnicate']);
  assert.equal(usage.code, 2);
  assert.match(usage.out, /unknown command "frobnicate"/);
  // Beside the local mode there is no S3_BUCKET: only `chunks`, which reads the bucket, asks for it.
  const withoutBucket = await cli(['list'], { S3_BUCKET: '' });
  assert.equal(withoutBucket.code, 0, withoutBucket.out);
  const chunksWithoutBucket = await cli(['chunks', 'no/such.mp4'], { S3_BUCKET: '' });
  assert.equal(chunksWithoutBucket.code, 1);
  assert.match(chunksWithoutBucket.out, /S3_BUCKET is required/);
});

test('reupload refuses a file reached through a symlink out of WATCH_DIR, and a host queue no app polls', async () => {
  const outside = tempDir('cli-outside');
  fs.writeFileSync(path.join(outside, 'secret.mp4'), 'not for the bucket');
  fs.symlinkSync(outside, path.join(watchDir, 'linked'));
  const escaped = await cli(['reupload', path.join(watchDir, 'linked', 'secret.mp4')]);
  assert.equal(escaped.code, 2, escaped.out);
  assert.match(escaped.out, /is not inside WATCH_DIR/);

  fs.writeFileSync(path.join(watchDir, 'never-seen.mp4'), Buffer.alloc(100, 1));
  const elsewhere = await cli(['reupload', path.join(watchDir, 'never-seen.mp4')], { HOST_ID: 'another-host' });
  assert.equal(elsewhere.code, 2, elsewhere.out);
  assert.match(elsewhere.out, /no app polls \S+@another-host: run this where the app runs, with its HOST_ID/);
});
