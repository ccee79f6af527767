import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { QuietTimers } from '../../src/watcher/quiet-timers';

test('quiet timers call back once a key has had no newer event by its deadline, and never for a deadline already past', () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  try {
    const quiet: Array<[string, number]> = [];
    const timers = new QuietTimers<number>((key, value) => quiet.push([key, value]));
    timers.touch('a.mp4', 1, 1000);
    mock.timers.tick(600);
    timers.touch('a.mp4', 2, 1600);
    timers.touch('old.mp4', 9, 100);
    mock.timers.tick(600);
    assert.deepEqual(quiet, [], 'a newer event re-arms the timer');
    mock.timers.tick(400);
    assert.deepEqual(quiet, [['a.mp4', 2]]);
    timers.touch('b.mp4', 3, 5000);
    timers.close();
    mock.timers.tick(10_000);
    assert.deepEqual(quiet, [['a.mp4', 2]], 'closed: nothing more');
  } finally {
    mock.timers.reset();
  }
});
