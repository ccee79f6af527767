import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readableLogLine } from '../../scripts/readable-log';

test('local mode shows a JSON log line as time, level, message and the other fields', () => {
  const line = JSON.stringify({
    level: 'warn',
    time: '2026-12-01T10:11:12.345Z',
    service: 'stream-uploader',
    msg: 'stream blocked until an operator resumes it',
    streamId: 'cam/a.mp4@1-2',
    chunks: [1, 2],
  });
  assert.equal(
    readableLogLine(line),
    '10:11:12.345 WARN  stream blocked until an operator resumes it  streamId=cam/a.mp4@1-2  chunks=[1,2]',
  );
  assert.equal(readableLogLine('not json at all'), 'not json at all');
  assert.equal(readableLogLine('[1,2]'), '[1,2]');
});
