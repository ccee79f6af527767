import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { startWatcher, type Watcher } from '../../src/watcher';
import type { LogLine } from '../support/app-process';
import { startStack, tempDir, unservedMetrics, type TestStack } from '../support/stack';
import { waitUntil } from '../support/wait';

/**
 * Regression tests for what the reliability suite found the watcher missing (see
 * docs/reliability.md): the real watcher signalling a real Temporal server, watched through its
 * debug log. Each wait is long enough to mean "never", not a performance bound.
 */
describe('the watcher reports every recording, and says why it skips one', () => {
  let stack: TestStack;
  let root: string;
  let watchDir: string;
  let watcher: Watcher;
  const logs: LogLine[] = [];
  const metrics = unservedMetrics();
  const skipped = async (reason: string) =>
    (await metrics.filesSkipped.get()).values.find((value) => value.labels.reason === reason)?.value ?? 0;
  const signalled = () =>
    new Set(
      logs
        .filter((line) => line.msg === 'file change signalled')
        .map((line) => String(line.streamId).replace(/@[^@]*$/, '')),
    );

  before(async () => {
    stack = await startStack();
    root = tempDir('watcher');
    watchDir = path.join(root, 'watched');
    fs.mkdirSync(watchDir);
    const sink = new Writable({
      write(data: Buffer, _encoding, done) {
        for (const line of data.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as LogLine);
        done();
      },
    });
    const config = loadConfig(stack.env({ WATCH_DIR: watchDir, TEMPORAL_TASK_QUEUE: `watcher-${process.pid}` }));
    watcher = await startWatcher(config, stack.client, pino({ level: 'debug' }, sink), undefined, metrics);
  });
  after(async () => {
    await watcher?.close();
    await stack?.stop();
  });

  test('files moved into a new folder while the watcher takes in its first ones are all signalled', async () => {
    // A folder copied in file by file: the first files are there when the watcher scans the new
    // folder, the rest arrive while it is still busy with them.
    const staging = path.join(root, 'staging');
    fs.mkdirSync(staging);
    const names = Array.from({ length: 200 }, (_, index) => `clip ${index}.mp4`);
    for (const name of names) fs.writeFileSync(path.join(staging, name), name);
    fs.mkdirSync(path.join(watchDir, 'copied in'));
    const moveIn = (name: string) => fs.renameSync(path.join(staging, name), path.join(watchDir, 'copied in', name));
    names.slice(0, 100).forEach(moveIn);
    await waitUntil(() => [...signalled()].some((relPath) => relPath.startsWith('copied in/')), 30_000);
    names.slice(100).forEach(moveIn);

    const expected = names.map((name) => `copied in/${name}`);
    await waitUntil(() => expected.every((relPath) => signalled().has(relPath)), 30_000).catch(() => undefined);
    const missed = expected.filter((relPath) => !signalled().has(relPath));
    assert.deepEqual(missed, [], `${missed.length} of ${expected.length} files were never signalled`);
  });

  test('a name with a backslash (a separator on Windows, a plain character here) is signalled', async () => {
    const relPath = 'C:\\rec\\.cam1.mp4';
    fs.writeFileSync(path.join(watchDir, relPath), 'bytes');
    await waitUntil(() => signalled().has(relPath), 30_000).catch(() => undefined);
    assert.ok(signalled().has(relPath), `${relPath} was never signalled`);
  });

  test('a symlink to a file outside WATCH_DIR is not followed, and a log line says so', async () => {
    const outside = path.join(root, 'outside.mp4');
    fs.writeFileSync(outside, 'secret');
    fs.symlinkSync(outside, path.join(watchDir, 'link.mp4'));
    const mentions = () => logs.some((line) => JSON.stringify(line).includes('link.mp4'));
    await waitUntil(mentions, 30_000).catch(() => undefined);
    assert.ok(!signalled().has('link.mp4'), 'the link was not followed');
    assert.ok(mentions(), 'a log line names the skipped link');
    assert.equal(await skipped('symlink'), 1);
  });

  test('a name that is not valid UTF-8 is skipped with a log line saying what to do, and counted', async () => {
    fs.writeFileSync(
      Buffer.concat([Buffer.from(`${watchDir}/clip-`), Buffer.from([0xff, 0xfe]), Buffer.from('.mp4')]),
      'x',
    );
    const mentioned = () => logs.some((line) => String(line.msg).includes('not valid UTF-8: rename it'));
    await waitUntil(mentioned, 30_000);
    assert.equal(await skipped('name_not_utf8'), 1);
  });
});
