import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ChunkBuffers } from '../../src/activities/store/chunk-buffers';

/** The memory a buffer handed to `work` lives in: the same one means the pooled buffer was reused. */
const memoryOf = (buffers: ChunkBuffers, size: number) => buffers.use(size, async (buffer) => buffer.buffer);

test('chunk buffers are reused while uploads keep coming, and let go after 10 s without any', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const buffers = new ChunkBuffers();
    const first = await memoryOf(buffers, 1024);
    mock.timers.tick(9_999);
    assert.equal(await memoryOf(buffers, 1024), first, 'reused within 10 s');
    mock.timers.tick(10_000);
    assert.notEqual(await memoryOf(buffers, 1024), first, 'a fresh buffer once the pool was let go');
  } finally {
    mock.timers.reset();
  }
});

test('a buffer whose upload failed is not reused: the request may still hold it', async () => {
  const buffers = new ChunkBuffers();
  let held: ArrayBufferLike | undefined;
  await assert.rejects(
    buffers.use(1024, async (buffer) => {
      held = buffer.buffer;
      throw new Error('connection reset');
    }),
  );
  assert.notEqual(await memoryOf(buffers, 1024), held);
});
