import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSettled, MTIME_SETTLE_MS, settledMtime } from '../../src/stream/settled-chunks';
import type { ChunkRecord } from '../../src/stream/types';

const chunk = (index: number, sourceMtimeMs?: number): ChunkRecord => ({
  index,
  offset: index * 100,
  size: 100,
  key: `s/chunks/${index}`,
  sha256: '0'.repeat(64),
  etag: '"e"',
  uploadedAt: '2026-12-01T00:00:00.000Z',
  ...(sourceMtimeMs === undefined ? {} : { sourceMtimeMs }),
});

describe('chunks that need not be read again before a stream completes', () => {
  test('an mtime counts only once a write in its tick is impossible', () => {
    assert.equal(settledMtime(10_000, 10_000 + MTIME_SETTLE_MS - 1), undefined);
    assert.equal(settledMtime(10_000, 10_000 + MTIME_SETTLE_MS), 10_000);
  });

  test('a chunk read under the mtime the file still has is settled; one read under another is not', () => {
    assert.equal(isSettled(chunk(0, 5_000), 5_000), true);
    assert.equal(isSettled(chunk(0, 5_000), 5_001), false, 'written since');
    assert.equal(isSettled(chunk(0), 5_000), false, 'read while the file was being written');
  });

  test('a check of the first chunks under the current mtime settles them, and only them', () => {
    const checked = { count: 2, mtimeMs: 7_000 };
    assert.equal(isSettled(chunk(1), 7_000, checked), true);
    assert.equal(isSettled(chunk(2), 7_000, checked), false);
    assert.equal(isSettled(chunk(1), 7_500, checked), false, 'written after the check');
  });
});
