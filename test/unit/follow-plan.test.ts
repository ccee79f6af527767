import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkAfterQuietMs,
  followBatchChunks,
  nextFollowStep,
  type FollowLimits,
  type FollowPosition,
} from '../../src/stream/follow-plan';
import { MTIME_SETTLE_MS } from '../../src/stream/settled-chunks';

const limits: FollowLimits = {
  chunkSize: 100,
  idleTimeoutMs: 1_000,
  maxChunks: 4,
  maxMs: 60_000,
  pollMs: 200,
  maxPollMs: 2_000,
};
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
    assert.deepEqual(nextFollowStep(at(1_000, 9_990, { nextIndex: 4, uploaded: 4 }), limits), {
      kind: 'end',
      end: 'batch',
    });
  });

  test('a follow carries a 200 MB file of 10 MiB chunks whole, and at most 640 MiB of any chunk size', () => {
    const MiB = 2 ** 20;
    assert.ok(followBatchChunks(10 * MiB) * 10 * MiB >= 200e6);
    assert.equal(followBatchChunks(MiB), 64);
    assert.equal(followBatchChunks(100 * MiB), 6);
    assert.equal(followBatchChunks(5 * 2 ** 30), 1);
  });

  test('waits while the file is written, never longer than the poll interval or the settle time left', () => {
    assert.deepEqual(nextFollowStep(at(250, 9_990, { nextIndex: 2 }), limits), { kind: 'wait', ms: 200 });
    assert.deepEqual(nextFollowStep(at(250, 9_100, { nextIndex: 2 }), limits), { kind: 'wait', ms: 100 });
  });

  test('looks less often while the next chunk is far off at the rate the file grows, and never past a deadline', () => {
    const slow: FollowLimits = { ...limits, idleTimeoutMs: 30_000 };
    const growing = (size: number, bytesPerMs: number) =>
      nextFollowStep(at(size, 9_990, { nextIndex: 2, checkedMtimeMs: 9_990, bytesPerMs }), slow);
    assert.deepEqual(growing(210, 0.01), { kind: 'wait', ms: 2_000 }, '9 s to the chunk: the longest wait');
    assert.deepEqual(growing(260, 0.01), { kind: 'wait', ms: 2_000 }, '4 s to go: half of it');
    assert.deepEqual(growing(280, 0.01), { kind: 'wait', ms: 1_000 }, '2 s to go: half of it');
    assert.deepEqual(growing(299, 0.01), { kind: 'wait', ms: 200 }, 'nearly full: the poll interval');
    assert.deepEqual(
      nextFollowStep(at(250, 9_990, { nextIndex: 2 }), slow),
      { kind: 'wait', ms: 200 },
      'growth unknown: the poll interval',
    );
    assert.deepEqual(
      nextFollowStep(at(210, 10_000 - 14_500, { nextIndex: 2, bytesPerMs: 0.001 }), slow),
      { kind: 'wait', ms: 500 },
      'the quiet check is due in 0.5 s',
    );
    assert.deepEqual(
      nextFollowStep(
        at(210, 10_000 - 29_700, { nextIndex: 2, checkedMtimeMs: 10_000 - 29_700, bytesPerMs: 0.001 }),
        slow,
      ),
      { kind: 'wait', ms: 300 },
      'idle in 0.3 s',
    );
  });

  test('ends once the file is quiet, has run its time, shrank under the uploaded chunks, or is gone', () => {
    assert.deepEqual(nextFollowStep(at(250, 0, { nextIndex: 2, checkedMtimeMs: 0 }), limits), {
      kind: 'end',
      end: 'quiet',
    });
    assert.deepEqual(nextFollowStep(at(250, 9_990, { nextIndex: 2, elapsedMs: 60_000 }), limits), {
      kind: 'end',
      end: 'time',
    });
    assert.deepEqual(nextFollowStep(at(150, 9_990, { nextIndex: 2 }), limits), { kind: 'end', end: 'shrank' });
    assert.deepEqual(nextFollowStep({ ...at(0, 0), observation: { status: 'missing' } }, limits), {
      kind: 'end',
      end: 'gone',
    });
    assert.deepEqual(nextFollowStep({ ...at(0, 0), observation: { status: 'replaced' } }, limits), {
      kind: 'end',
      end: 'gone',
    });
  });

  test('a full chunk goes up even when the time is up: the bytes are there', () => {
    assert.equal(nextFollowStep(at(250, 9_990, { elapsedMs: 70_000 }), limits).kind, 'upload');
  });

  test('checks the uploaded chunks once the file is quiet for half the idle timeout, once per mtime', () => {
    const slow: FollowLimits = { ...limits, idleTimeoutMs: 10_000 };
    assert.equal(nextFollowStep(at(250, 5_100, { nextIndex: 2 }), slow).kind, 'wait', 'quiet 4.9 s of 10 s: a pause');
    assert.deepEqual(nextFollowStep(at(250, 5_000, { nextIndex: 2 }), slow), { kind: 'check' });
    assert.equal(
      nextFollowStep(at(250, 5_000, { nextIndex: 2, checkedMtimeMs: 5_000 }), slow).kind,
      'wait',
      'checked at this mtime already',
    );
    assert.deepEqual(
      nextFollowStep(at(250, 4_000, { nextIndex: 2, checkedMtimeMs: 3_000 }), slow),
      { kind: 'check' },
      'written since the check',
    );
    assert.equal(nextFollowStep(at(50, 5_000), slow).kind, 'wait', 'nothing uploaded yet: nothing to check');
  });

  test('never checks before the mtime has settled', () => {
    assert.equal(checkAfterQuietMs(1_000), MTIME_SETTLE_MS);
    assert.equal(checkAfterQuietMs(30_000), 15_000);
    const quick: FollowLimits = { ...limits, idleTimeoutMs: 3_000 };
    assert.equal(nextFollowStep(at(250, 10_000 - MTIME_SETTLE_MS + 1, { nextIndex: 2 }), quick).kind, 'wait');
    assert.deepEqual(
      nextFollowStep(at(250, 9_000, { nextIndex: 2 }), limits),
      { kind: 'end', end: 'quiet' },
      'idle after 1 s, its mtime not settled: the workflow checks',
    );
  });

  test('checks an idle file not checked under its mtime before ending, so that the follow can complete it', () => {
    assert.deepEqual(
      nextFollowStep(at(250, 7_000, { nextIndex: 2 }), { ...limits, idleTimeoutMs: 3_000 }),
      { kind: 'check' },
      'written after the quiet check',
    );
    assert.deepEqual(
      nextFollowStep(at(250, 0, { nextIndex: 2 }), limits),
      { kind: 'check' },
      'a backlog: idle from the start',
    );
    assert.deepEqual(nextFollowStep(at(250, 0, { nextIndex: 2, checkedMtimeMs: 0 }), limits), {
      kind: 'end',
      end: 'quiet',
    });
    assert.deepEqual(nextFollowStep(at(50, 0), limits), { kind: 'end', end: 'quiet' }, 'no chunk to check');
  });
});
