import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UploadRate, type UploadPriority } from '../../src/activities/store/upload-rate';

const never = new AbortController().signal;

test('a live chunk waiting goes before backlog chunks that waited longer; each priority in arrival order', async () => {
  const rate = new UploadRate(100_000);
  await rate.take(100_000, 'backlog', never);
  const granted: string[] = [];
  const take = (name: string, priority: UploadPriority) =>
    rate.take(20_000, priority, never).then(() => granted.push(name));
  await Promise.all([
    take('backlog 1', 'backlog'),
    take('backlog 2', 'backlog'),
    take('live 1', 'live'),
    take('live 2', 'live'),
  ]);
  assert.deepEqual(granted, ['live 1', 'live 2', 'backlog 1', 'backlog 2']);
});

test('a chunk larger than one second of bytes waits for a full bucket and leaves it in debt', async () => {
  const rate = new UploadRate(100_000);
  const started = performance.now();
  await rate.take(100_000, 'live', never);
  await rate.take(150_000, 'live', never);
  await rate.take(10_000, 'live', never);
  // A lower bound only: 150 kB above the first second's, then 10 kB, take 1.6 s at 100 kB/s.
  assert.ok(performance.now() - started >= 1_500, `${performance.now() - started} ms`);
});

test('a waiter cancelled leaves the queue, and those behind it are served', async () => {
  const rate = new UploadRate(100_000);
  await rate.take(100_000, 'backlog', never);
  const cancel = new AbortController();
  const cancelled = rate.take(50_000, 'backlog', cancel.signal);
  const behind = rate.take(10_000, 'backlog', never);
  cancel.abort(new Error('stream cancelled'));
  await assert.rejects(cancelled, /stream cancelled/);
  await behind;
});
