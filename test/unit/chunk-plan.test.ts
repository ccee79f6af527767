import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chunkCount, chunkRange, completesChunk, intactFullChunks, nextFullChunks } from '../../src/stream/chunk-plan';
import { idleWaitMs } from '../../src/stream/idle';

describe('chunk plan', () => {
  test('uploads only full chunks while the file may grow, a bounded batch at a time', () => {
    assert.deepEqual(nextFullChunks(0, 100, 250, 8), [
      { index: 0, offset: 0, size: 100 },
      { index: 1, offset: 100, size: 100 },
    ]);
    assert.deepEqual(nextFullChunks(2, 100, 250, 8), [], 'the short tail waits for the end');
    assert.deepEqual(nextFullChunks(0, 100, 99, 8), []);
    assert.deepEqual(
      nextFullChunks(1, 100, 1000, 3).map((range) => range.index),
      [1, 2, 3],
    );
    assert.deepEqual(nextFullChunks(5, 100, 250, 8), [], 'a file that shrank has nothing new');
  });

  test('a stream hears at once of a new full chunk or a file that shrank, not of every write', () => {
    assert.equal(completesChunk(0, 99, 100), false);
    assert.equal(completesChunk(99, 100, 100), true);
    assert.equal(completesChunk(150, 199, 100), false);
    assert.equal(completesChunk(150, 420, 100), true);
    assert.equal(completesChunk(150, 140, 100), true);
  });

  test('counts chunks', () => {
    assert.equal(chunkCount(100, 0), 0);
    assert.equal(chunkCount(100, 100), 1);
    assert.equal(chunkCount(100, 101), 2);
    assert.deepEqual(chunkRange(1, 100, 150), { index: 1, offset: 100, size: 50 });
  });

  test('drops chunks past the end of a file that shrank', () => {
    assert.equal(intactFullChunks(5, 100, 1000), 5);
    assert.equal(intactFullChunks(5, 100, 250), 2);
  });
});

describe('idle decision', () => {
  test('waits the rest of the timeout, measured from the last change', () => {
    assert.equal(idleWaitMs(10_000, 10_000, 30_000), 30_000);
    assert.equal(idleWaitMs(10_000, 25_000, 30_000), 15_000);
    assert.equal(idleWaitMs(10_000, 40_000, 30_000), 0);
    assert.equal(idleWaitMs(10_000, 90_000, 30_000), 0);
  });

  test('never waits longer than the timeout, even for a modification time in the future', () => {
    assert.equal(idleWaitMs(99_000, 10_000, 30_000), 30_000);
  });
});
