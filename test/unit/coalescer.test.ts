import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { Coalescer } from '../../src/watcher/coalescer';

describe('coalescer', () => {
  function withClock(run: () => void) {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    try {
      run();
    } finally {
      mock.timers.reset();
    }
  }

  test('sends the first event at once, then at most one per interval with the newest value', () =>
    withClock(() => {
      const sent: Array<[string, number]> = [];
      const coalescer = new Coalescer<number>(1000, (key, value) => sent.push([key, value]));
      for (let size = 1; size <= 50; size++) coalescer.push('a.mp4', size);
      coalescer.push('b.mp4', 7);
      assert.deepEqual(sent, [
        ['a.mp4', 1],
        ['b.mp4', 7],
      ]);
      mock.timers.tick(1000);
      assert.deepEqual(sent.slice(2), [['a.mp4', 50]]);
      mock.timers.tick(1000);
      assert.equal(sent.length, 3, 'nothing new: nothing sent');
      coalescer.push('a.mp4', 51);
      assert.deepEqual(sent.slice(3), [['a.mp4', 51]], 'quiet key sends at once again');
    }));

  test('while a file grows steadily, only urgent changes go out, and the last size once it stops', () =>
    withClock(() => {
      const sent: number[] = [];
      const newChunk = (before: number, after: number) => Math.floor(after / 100) > Math.floor(before / 100);
      const coalescer = new Coalescer<number>(1000, (_key, value) => sent.push(value), newChunk);
      // 10 bytes every 100 ms: a new 100-byte chunk every second.
      for (let size = 10; size <= 350; size += 10) {
        coalescer.push('a.mp4', size);
        mock.timers.tick(100);
      }
      assert.deepEqual(sent, [10, 100, 200, 300], 'the first event, then each new chunk at once');
      mock.timers.tick(2000);
      assert.deepEqual(sent, [10, 100, 200, 300, 350], 'the final size once writes stop');
      mock.timers.tick(5000);
      assert.equal(sent.length, 5);
    }));

  test('flush sends what is waiting', () =>
    withClock(() => {
      const sent: number[] = [];
      const coalescer = new Coalescer<number>(1000, (_key, value) => sent.push(value));
      coalescer.push('a', 1);
      coalescer.push('a', 2);
      coalescer.flush();
      assert.deepEqual(sent, [1, 2]);
      mock.timers.tick(5000);
      assert.deepEqual(sent, [1, 2]);
    }));
});
