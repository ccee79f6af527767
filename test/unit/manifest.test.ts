import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildManifest,
  CHUNK_RECORDS_PER_PAGE,
  chunksOfPage,
  chunksToList,
  storedManifestStays,
  isCompleteFor,
  mergeChunkRecords,
  nextRevision,
  pagesToWrite,
  reusableChunks,
  summarize,
} from '../../src/stream/manifest';
import { streamRef } from '../../src/stream/identity';
import type { ChunkRecord } from '../../src/stream/types';

const stream = streamRef('rec.mp4', { ino: 1, birthtimeMs: 2 }, 'p');
const record = (index: number, size = 100, sha256 = `sha-${index}`): ChunkRecord => ({
  index,
  offset: index * 100,
  size,
  key: `p/chunks/${index}`,
  sha256,
  etag: `"e${index}"`,
  uploadedAt: '2026-01-01T00:00:00.000Z',
});

/** A complete first revision of a 230-byte file in 100-byte chunks. */
const completeManifest = () =>
  buildManifest(
    {
      stream,
      status: 'complete',
      revision: 1,
      rewrittenChunks: 0,
      file: { size: 230, mtimeMs: 0 },
      chunkSize: 100,
      startedAt: '2026-01-01T00:00:00.000Z',
      completedAt: '2026-01-01T00:01:00.000Z',
      durationSeconds: null,
    },
    3,
    record(2, 30),
  );

describe('manifest', () => {
  test('later uploads replace earlier records of the same chunk', () => {
    const merged = mergeChunkRecords([record(0), record(1)], [record(0, 100, 'rewritten'), record(2, 30)], 0, 3);
    assert.deepEqual(
      merged.map((chunk) => chunk.sha256),
      ['rewritten', 'sha-1', 'sha-2'],
    );
  });

  test('keeps only the chunks asked for, and refuses a hole', () => {
    assert.equal(mergeChunkRecords([record(0), record(1), record(2)], [], 0, 2).length, 2);
    assert.deepEqual(
      mergeChunkRecords([record(0), record(1), record(2)], [], 1, 3).map((chunk) => chunk.index),
      [1, 2],
    );
    assert.throws(() => mergeChunkRecords([record(0)], [record(2)], 0, 3), /no record of chunk 1/);
  });

  test("an update writes the pages its new records fall in and the last one, whatever the stream's length", () => {
    const perPage = CHUNK_RECORDS_PER_PAGE;
    // Chunk 10,000 of a long recording: one page, however many came before.
    assert.deepEqual(pagesToWrite([record(10_000)], 10_001, 10_000), [10_000 / perPage]);
    // Chunk 0 rewritten at the end (ffmpeg's header patch), with the tail.
    assert.deepEqual(pagesToWrite([record(0), record(3 * perPage + 5, 30)], 3 * perPage + 6, 3 * perPage + 5), [0, 3]);
    // A status change alone, or a file that shrank: the last page.
    assert.deepEqual(pagesToWrite([], 2 * perPage, 2 * perPage), [1]);
    assert.deepEqual(pagesToWrite([record(2 * perPage + 1)], perPage + 1, 3 * perPage), [1]);
    // Every page the stored manifest does not count, even one no new record falls in (it would
    // then hold a hole, and writing it fails loudly instead); all of them after schema 1.
    assert.deepEqual(pagesToWrite([record(3 * perPage)], 3 * perPage + 1, perPage / 2), [0, 1, 2, 3]);
    assert.deepEqual(pagesToWrite([record(2 * perPage)], 2 * perPage + 1, 0), [0, 1, 2]);
    assert.deepEqual(pagesToWrite([], 0, 0), []);
    assert.deepEqual(chunksOfPage(2, 2 * perPage + 7), { first: 2 * perPage, end: 2 * perPage + 7 });
    assert.deepEqual(chunksOfPage(0, 2 * perPage + 7), { first: 0, end: perPage });
  });

  test('describes the stream', () => {
    const manifest = buildManifest(
      {
        stream,
        status: 'complete',
        revision: 1,
        rewrittenChunks: 1,
        file: { size: 230, mtimeMs: Date.UTC(2026, 0, 1) },
        chunkSize: 100,
        startedAt: '2026-01-01T00:00:00.000Z',
        completedAt: '2026-01-01T00:01:00.000Z',
        durationSeconds: 12.5,
      },
      3,
      record(2, 30),
    );
    assert.equal(manifest.totalSize, 230);
    assert.equal(manifest.chunkCount, 3);
    assert.deepEqual(manifest.chunkRecords, {
      keyPrefix: 'p/rec.mp4/1-2/chunk-records/',
      perPage: CHUNK_RECORDS_PER_PAGE,
      pages: 1,
    });
    assert.equal(manifest.source.path, 'rec.mp4');
    assert.equal(manifest.source.modifiedAt, '2026-01-01T00:00:00.000Z');
    assert.equal(manifest.workflowId, stream.workflowId);
    assert.equal(manifest.revision, 1);
    assert.equal(manifest.rewrittenChunks, 1);
    assert.equal('previousRevision' in manifest, false);
    assert.equal('error' in manifest, false);
    assert.equal(isCompleteFor(manifest, { size: 230, mtimeMs: Date.UTC(2026, 0, 1) }), true);
    assert.equal(isCompleteFor(manifest, { size: 231, mtimeMs: Date.UTC(2026, 0, 1) }), false);
    const summary = summarize(manifest, stream.prefix);
    assert.equal(summary.manifestKey, 'p/rec.mp4/1-2/metadata.json');
  });

  test('only a complete manifest lists fewer chunks than the stored one: others keep listing them', () => {
    const stored = { chunkCount: 10, chunkSize: 100 };
    const pending = [record(0), record(1), record(2, 40)];
    for (const status of ['recording', 'cancelled', 'failed'] as const) {
      const listed = chunksToList({ status, chunkSize: 100 }, 3, pending, stored);
      assert.equal(listed.count, 10, status);
      // The partial tail at 2 would leave a gap before chunk 3: the stored record of chunk 2 stays.
      assert.deepEqual(
        listed.pending.map((chunk) => chunk.index),
        [0, 1],
        status,
      );
    }
    assert.deepEqual(chunksToList({ status: 'complete', chunkSize: 100 }, 3, pending, stored), { count: 3, pending });
    assert.deepEqual(chunksToList({ status: 'cancelled', chunkSize: 100 }, 12, pending, stored), {
      count: 12,
      pending,
    });
    assert.deepEqual(chunksToList({ status: 'cancelled', chunkSize: 100 }, 3, pending, undefined), {
      count: 3,
      pending,
    });
    assert.deepEqual(
      chunksToList({ status: 'cancelled', chunkSize: 200 }, 3, pending, stored),
      { count: 3, pending },
      'a manifest cut in another chunk size is not extended',
    );
    const tailAtEnd = [record(0), record(9, 40)];
    assert.deepEqual(chunksToList({ status: 'failed', chunkSize: 100 }, 1, tailAtEnd, stored).pending, tailAtEnd);
  });

  test("a cancel or failure after a revision's complete manifest leaves it in place, and no earlier revision replaces a later one", () => {
    const complete = { status: 'complete' as const, revision: 2 };
    assert.equal(storedManifestStays({ status: 'cancelled', revision: 2 }, complete), 'completed');
    assert.equal(storedManifestStays({ status: 'failed', revision: 2 }, complete), 'completed');
    assert.equal(storedManifestStays({ status: 'complete', revision: 2 }, complete), undefined);
    assert.equal(storedManifestStays({ status: 'recording', revision: 3 }, complete), undefined);
    assert.equal(
      storedManifestStays({ status: 'cancelled', revision: 2 }, { status: 'recording', revision: 2 }),
      undefined,
    );
    assert.equal(storedManifestStays({ status: 'cancelled', revision: 1 }, undefined), undefined);
    for (const status of ['recording', 'complete', 'cancelled', 'failed'] as const)
      assert.equal(
        storedManifestStays({ status, revision: 1 }, { status: 'recording', revision: 2 }),
        'later revision',
      );
  });

  test('a new run builds on the full chunks of an earlier manifest only', () => {
    const earlier = [record(0), record(1), record(2, 30)];
    assert.equal(reusableChunks(earlier, 100).length, 2);
    assert.equal(reusableChunks(earlier, 50).length, 0);
  });

  test('a run after a finalized manifest writes the next revision and names the one it supersedes', () => {
    const complete = completeManifest();
    assert.deepEqual(nextRevision(null), { revision: 1 });
    const second = nextRevision(complete);
    assert.deepEqual(second, {
      revision: 2,
      previousRevision: { revision: 1, status: 'complete', totalSize: 230, completedAt: '2026-01-01T00:01:00.000Z' },
    });
    const live = { ...complete, status: 'recording' as const, completedAt: null, ...second };
    assert.deepEqual(nextRevision(live), second, 'a live manifest is carried on, not superseded');
  });
});
