import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..', '..');

test('`npm start` refuses a bad configuration before it builds, with a readable error naming each variable', async () => {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CHUNK_SIZE: 'lots',
    S3_ENDPOINT: 'http://admin:hunter2@minio:9000',
  };
  const failure = await promisify(execFile)('npm', ['start'], { cwd: ROOT, env }).then(
    () => assert.fail('npm start should have failed'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(failure.code, 1);
  assert.match(failure.stderr, /Invalid configuration/);
  assert.match(failure.stderr, /S3_BUCKET is required/);
  assert.match(failure.stderr, /CHUNK_SIZE is not a size/);
  assert.match(failure.stderr, /S3_ENDPOINT must not carry credentials/);
  assert.doesNotMatch(failure.stderr, /hunter2|lots/);
});
