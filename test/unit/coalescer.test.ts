import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { Coalescer } from '../../src/watcher/coalescer';

describe('coalescer', () => {
  test('sends the first event at once, then at most one per interval with the newest value', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const sent: Array<[string, number]> = [];
      const coalescer = new Coalescer<number>(1000, (key, value) => sent.push([key, value]));
      for (let size = 1; size <= 50; size++) coalescer.push('a.mp4', size);
      coalescer.push('b.mp4', 7);
      assert.deepEqual(sent, [['a.mp4', 1], ['b.mp4', 7]]);
      mock.timers.tick(1000);
      assert.deepEqual(sent.slice(2), [['a.mp4', 50]]);
      mock.timers.tick(1000);
      assert.equal(sent.length, 3, 'nothing new: nothing sent');
      coalescer.push('a.mp4', 51);
      assert.deepEqual(sent.slice(3), [['a.mp4', 51]], 'quiet key sends at once again');
    } finally {
      mock.timers.reset();
    }
  });

  test('flush sends what is waiting', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const sent: number[] = [];
      const coalescer = new Coalescer<number>(1000, (_key, value) => sent.push(value));
      coalescer.push('a', 1);
      coalescer.push('a', 2);
      coalescer.flush();
      assert.deepEqual(sent, [1, 2]);
      mock.timers.tick(5000);
      assert.deepEqual(sent, [1, 2]);
    } finally {
      mock.timers.reset();
    }
  });
});
