import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ChunkBuffers } from '../../src/activities/store/chunk-buffers';

/** The memory a buffer handed to `work` lives in: the same one means the pooled buffer was reused. */
const memoryOf = (buffers: ChunkBuffers, size: number) => buffers.use(size, async (buffer) => buffer.buffer);

test('chunk buffers are reused while uploads keep coming, and let go after 10 s without any', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const buffers = new ChunkBuffers();
    const first = await memoryOf(buffers, 1024);
    mock.timers.tick(9_999);
    assert.equal(await memoryOf(buffers, 1024), first, 'reused within 10 s');
    mock.timers.tick(10_000);
    assert.ok(first.detached, 'its memory was freed at once, not left to the garbage collector');
    assert.notEqual(await memoryOf(buffers, 1024), first, 'a fresh buffer once the pool was let go');
  } finally {
    mock.timers.reset();
  }
});

test('after a burst of uploads, the buffers the steady flow does not take are let go', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  try {
    const buffers = new ChunkBuffers();
    /** `count` uploads in flight at once: the memory each was given. */
    const atOnce = async (count: number) => {
      let release = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const uploads = Array.from({ length: count }, () =>
        buffers.use(1024, async (buffer) => (await gate, buffer.buffer)),
      );
      release();
      return Promise.all(uploads);
    };
    const burst = await atOnce(3);
    // One upload at a time for 12 s: it takes the same buffer each time.
    let steady: ArrayBuffer | undefined;
    for (let second = 0; second < 12; second++) {
      steady = await memoryOf(buffers, 1024);
      mock.timers.tick(1_000);
    }
    assert.ok(steady && burst.includes(steady), 'the steady flow reuses a buffer of the burst');
    assert.equal(burst.filter((memory) => memory.detached).length, 2, 'the two idle for 10 s were freed');
    const next = await atOnce(3);
    assert.equal(next.filter((memory) => burst.includes(memory)).length, 1, 'the two idle for 10 s were let go');
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
