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

test("a file name's control characters and bidirectional overrides are shown escaped, never sent to the terminal", () => {
  const line = JSON.stringify({
    level: 'warn',
    time: '2026-12-01T10:11:12.345Z',
    msg: 'cannot stat file \u0007',
    relPath: 'cam/\u001b]0;owned\u0007\u009b2J\u202egpj.mp4',
    err: { message: 'at \u001b[2J\u0085' },
  });
  assert.equal(
    readableLogLine(line),
    '10:11:12.345 WARN  cannot stat file \\u{7}  relPath=cam/\\u{1b}]0;owned\\u{7}\\u{9b}2J\\u{202e}gpj.mp4  err={"message":"at \\u001b[2J\\u{85}"}',
  );
  assert.equal(readableLogLine('raw \u001b[31mred\u0007'), 'raw \\u{1b}[31mred\\u{7}');
  assert.equal(readableLogLine('"\u202e"'), '"\\u{202e}"');
});
