import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isNewer, sameSnapshot } from '../../src/stream/file-change';
import { sameFile, shortenPath, streamNamesProblem, streamPathAttribute, streamRef } from '../../src/stream/identity';
import { alternateChunkKey, chunkIndexOfKey, chunkKey, manifestKey } from '../../src/stream/object-keys';
import { recordingFilter } from '../../src/watcher/file-filter';

describe('stream identity and object keys', () => {
  test('names a stream after its path and file identity', () => {
    const ref = streamRef('cam 1/rec.mp4', { ino: 42, birthtimeMs: 1700000000123.7 }, 'recordings');
    assert.equal(ref.streamId, 'cam 1/rec.mp4@42-1700000000123');
    assert.equal(ref.workflowId, 'stream:cam 1/rec.mp4@42-1700000000123');
    assert.equal(ref.prefix, 'recordings/cam 1/rec.mp4/42-1700000000123');
    assert.equal(streamRef('rec.mp4', { ino: 1, birthtimeMs: 2 }, '').prefix, 'rec.mp4/1-2');
  });

  test('a path too long for a workflow id, an S3 key or a search attribute is named by its end and a hash there, whole in the manifest', () => {
    const bytes = (text: string) => Buffer.byteLength(text);
    const deep = `${'a-long-folder-name-é/'.repeat(60)}camera 7/recording.mp4`;
    const ref = streamRef(deep, { ino: 123456789, birthtimeMs: 1700000000123 }, 'recordings/site');
    assert.ok(bytes(ref.workflowId) <= 255, `workflow id of ${bytes(ref.workflowId)} bytes`);
    assert.ok(bytes(`${ref.prefix}/chunk-records/000000.json`) <= 1024);
    assert.match(ref.workflowId, /^stream:….*camera 7\/recording\.mp4~[0-9a-f]{16}@123456789-1700000000123$/);
    assert.match(ref.prefix, /^recordings\/site\/….*camera 7\/recording\.mp4~[0-9a-f]{16}\/123456789-1700000000123$/);
    assert.equal(ref.relPath, deep);
    assert.ok(bytes(streamPathAttribute(deep)) <= 255);
    const other = streamRef(`b${deep}`, { ino: 123456789, birthtimeMs: 1700000000123 }, 'recordings/site');
    assert.notEqual(other.workflowId, ref.workflowId, 'paths ending alike get different names');
    assert.equal(shortenPath('cam/rec.mp4', 11), 'cam/rec.mp4', 'a path that fits is kept as it is');
    assert.equal(streamPathAttribute('cam/rec.mp4'), 'cam/rec.mp4');
    assert.ok(bytes(shortenPath('ééééééééééééééééééééé.mp4', 24)) <= 24, 'never cut inside a character');
  });

  test("a stream's names are checked against those its path, identity and S3_PREFIX give", () => {
    const ref = streamRef('cam/rec.mp4', { ino: 42, birthtimeMs: 1700000000123 }, 'recordings');
    assert.equal(streamNamesProblem(ref, 'recordings'), null);
    assert.match(
      streamNamesProblem(ref, 'elsewhere') ?? '',
      /S3 prefix "recordings\/cam\/rec.mp4\/42-1700000000123".*S3_PREFIX/,
    );
    assert.match(streamNamesProblem({ ...ref, prefix: 'recordings' }, 'recordings') ?? '', /S3 prefix "recordings"/);
    assert.match(
      streamNamesProblem({ ...ref, prefix: 'recordings/cam/other.mp4/7-1' }, 'recordings') ?? '',
      /is not the one/,
      "another stream's prefix",
    );
    assert.match(streamNamesProblem({ ...ref, streamId: 'x@1-2' }, 'recordings') ?? '', /stream id "x@1-2"/);
  });

  test('a new file under an old name gets other names (no overwrite of earlier objects)', () => {
    const first = streamRef('rec.mp4', { ino: 7, birthtimeMs: 1000 }, '');
    const second = streamRef('rec.mp4', { ino: 7, birthtimeMs: 2000 }, '');
    assert.notEqual(first.workflowId, second.workflowId);
    assert.notEqual(first.prefix, second.prefix);
    assert.equal(sameFile(first.identity, { ino: 7, birthtimeMs: 1000.4 }), true);
    assert.equal(sameFile(first.identity, second.identity), false);
  });

  test('lays out chunk keys zero-padded to six digits', () => {
    assert.equal(chunkKey('p', 7), 'p/chunks/000007');
    assert.equal(manifestKey('p'), 'p/metadata.json');
    assert.equal(chunkIndexOfKey('p', 'p/chunks/000123'), 123);
    assert.equal(chunkIndexOfKey('p', 'p/metadata.json'), null);
    assert.equal(chunkIndexOfKey('p', 'q/chunks/000001'), null);
  });

  test("names a chunk's alternate object by its content, and lists it under its index", () => {
    const key = alternateChunkKey('p', 7, 'ab'.repeat(32));
    assert.equal(key, 'p/chunks/000007.abababababababab');
    assert.equal(chunkIndexOfKey('p', key), 7);
    assert.equal(chunkIndexOfKey('p', 'p/chunks/000007.tmp'), null);
  });

  test('never lets an older observation replace a newer one', () => {
    const known = { size: 100, mtimeMs: 2000 };
    assert.equal(isNewer(known, { size: 200, mtimeMs: 3000 }), true);
    assert.equal(isNewer(known, { size: 50, mtimeMs: 1000 }), false);
    assert.equal(isNewer(known, { size: 150, mtimeMs: 2000 }), true);
    assert.equal(isNewer(known, { size: 100, mtimeMs: 2000 }), false);
    assert.equal(sameSnapshot(known, { ...known }), true);
  });

  test('watches .mp4 recordings only by default, not hidden or temporary files', () => {
    const isRecordingPath = recordingFilter(['*.mp4']);
    assert.equal(isRecordingPath('a.mp4'), true);
    assert.equal(isRecordingPath('cam/B.MP4'), true);
    assert.equal(isRecordingPath('a.mov'), false);
    assert.equal(isRecordingPath('a.mp4x'), false);
    assert.equal(isRecordingPath('.a.mp4'), false);
    assert.equal(isRecordingPath('.hidden/a.mp4'), false);
    assert.equal(isRecordingPath('a.mp4.part'), false);
    assert.equal(isRecordingPath('a.mp4~'), false);
  });

  test('watches every WATCH_PATTERNS pattern, matched against the file name whatever the case', () => {
    const isRecordingPath = recordingFilter(['*.mp4', '*.mov', '*.mkv', '*.ts', 'cam?-*.avi']);
    for (const name of ['a.mp4', 'b.MOV', 'c d/e.mkv', 'seg00012.ts', 'cam1-x.avi'])
      assert.equal(isRecordingPath(name), true, name);
    for (const name of ['a.webm', 'a.ts.part', '.x/a.mkv', 'cam12-x.avi', 'a.mkv.tmp', 'amkv'])
      assert.equal(isRecordingPath(name), false, name);
    assert.equal(recordingFilter(['a+b(1).mp4'])('a+b(1).mp4'), true, 'regex characters stand for themselves');
    assert.equal(recordingFilter(['a+b(1).mp4'])('aab1.mp4'), false);
  });
});
