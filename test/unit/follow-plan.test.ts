import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextFollowStep, type FollowLimits, type FollowPosition } from '../../src/stream/follow-plan';

const limits: FollowLimits = { chunkSize: 100, settleMs: 1_000, maxChunks: 4, maxMs: 60_000, pollMs: 200 };
const at = (size: number, mtimeMs: number, extra: Partial<FollowPosition> = {}): FollowPosition => ({
  observation: { status: 'present', size, mtimeMs },
  nextIndex: 0,
  uploaded: 0,
  elapsedMs: 0,
  nowMs: 10_000,
  ...extra,
});

describe('following a growing file', () => {
  test('uploads the full chunks as soon as they exist, up to the batch', () => {
    assert.deepEqual(nextFollowStep(at(250, 9_990), limits), {
      kind: 'upload',
      ranges: [
        { index: 0, offset: 0, size: 100 },
        { index: 1, offset: 100, size: 100 },
      ],
    });
    const step = nextFollowStep(at(1_000, 9_990, { nextIndex: 2, uploaded: 2 }), limits);
    assert.deepEqual(step.kind === 'upload' && step.ranges.map((range) => range.index), [2, 3]);
    assert.deepEqual(nextFollowStep(at(1_000, 9_990, { nextIndex: 4, uploaded: 4 }), limits), { kind: 'end', end: 'batch' });
  });

  test('waits while the file is written, never longer than the poll interval or the settle time left', () => {
    assert.deepEqual(nextFollowStep(at(250, 9_990, { nextIndex: 2 }), limits), { kind: 'wait', ms: 200 });
    assert.deepEqual(nextFollowStep(at(250, 9_100, { nextIndex: 2 }), limits), { kind: 'wait', ms: 100 });
  });

  test('ends once the file is quiet, has run its time, shrank under the uploaded chunks, or is gone', () => {
    assert.deepEqual(nextFollowStep(at(250, 9_000, { nextIndex: 2 }), limits), { kind: 'end', end: 'quiet' });
    assert.deepEqual(nextFollowStep(at(250, 9_990, { nextIndex: 2, elapsedMs: 60_000 }), limits), { kind: 'end', end: 'time' });
    assert.deepEqual(nextFollowStep(at(150, 9_990, { nextIndex: 2 }), limits), { kind: 'end', end: 'shrank' });
    assert.deepEqual(nextFollowStep({ ...at(0, 0), observation: { status: 'missing' } }, limits), { kind: 'end', end: 'gone' });
    assert.deepEqual(nextFollowStep({ ...at(0, 0), observation: { status: 'replaced' } }, limits), { kind: 'end', end: 'gone' });
  });

  test('a full chunk goes up even when the time is up: the bytes are there', () => {
    assert.equal(nextFollowStep(at(250, 9_990, { elapsedMs: 70_000 }), limits).kind, 'upload');
  });
});
