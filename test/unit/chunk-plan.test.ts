import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chunkCount, chunkRange, intactFullChunks, nextChunk } from '../../src/stream/chunk-plan';
import { idleWaitMs } from '../../src/stream/idle';

describe('chunk plan', () => {
  test('uploads only full chunks while the file may grow', () => {
    assert.deepEqual(nextChunk(0, 100, 250, false), { index: 0, offset: 0, size: 100 });
    assert.deepEqual(nextChunk(2, 100, 250, false), null);
    assert.deepEqual(nextChunk(0, 100, 99, false), null);
  });

  test('uploads the short tail at the end, and nothing for an empty file', () => {
    assert.deepEqual(nextChunk(2, 100, 250, true), { index: 2, offset: 200, size: 50 });
    assert.equal(nextChunk(3, 100, 250, true), null);
    assert.equal(nextChunk(0, 100, 0, true), null);
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
