import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, parseBoolean, parseDuration, parseSize } from '../../src/config';

const minimal = { S3_BUCKET: 'recordings' };

describe('config', () => {
  test('parses sizes with and without units', () => {
    assert.equal(parseSize('10485760'), 10 * 2 ** 20);
    assert.equal(parseSize('10MiB'), 10 * 2 ** 20);
    assert.equal(parseSize('512 KiB'), 512 * 1024);
    assert.equal(parseSize('5MB'), 5_000_000);
    assert.throws(() => parseSize('ten megs'), /not a size/);
    assert.throws(() => parseSize('10XB'), /not a size/);
  });

  test('parses durations', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('2m'), 120_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('250'), 250);
    assert.throws(() => parseDuration('soon'), /not a duration/);
  });

  test('parses booleans strictly', () => {
    assert.equal(parseBoolean('true'), true);
    assert.equal(parseBoolean('0'), false);
    assert.throws(() => parseBoolean('maybe'), /not a boolean/);
  });

  test('applies the documented defaults', () => {
    const config = loadConfig(minimal, '/srv');
    assert.equal(config.watchDir, '/srv/input-videos');
    assert.equal(config.chunkSize, 10 * 2 ** 20);
    assert.equal(config.streamIdleTimeoutMs, 30_000);
    assert.equal(config.s3.region, 'us-east-1');
    assert.equal(config.s3.prefix, '');
    assert.equal(config.s3.forcePathStyle, false);
    assert.equal(config.s3.endpoint, undefined);
    assert.equal(config.s3.requestTimeoutMs, 30_000);
    assert.equal(config.hostId, os.hostname());
    assert.deepEqual(config.temporal, {
      address: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'stream-uploader',
      fileTaskQueue: `stream-uploader@${os.hostname()}`,
    });
    assert.equal(config.watchRescanIntervalMs, 10_000);
    assert.equal(config.uploadConcurrency, 1);
    assert.equal(config.maxConcurrentUploads, 8);
    assert.equal(config.logLevel, 'info');
  });

  test('accepts chunk sizes below the multipart minimum and trims the prefix', () => {
    const config = loadConfig({ ...minimal, CHUNK_SIZE: '64KiB', S3_PREFIX: '/cams/', S3_FORCE_PATH_STYLE: 'true' });
    assert.equal(config.chunkSize, 64 * 1024);
    assert.equal(config.s3.prefix, 'cams');
    assert.equal(config.s3.forcePathStyle, true);
  });

  test("routes the stream's activities to this host's own task queue", () => {
    const config = loadConfig({ ...minimal, TEMPORAL_TASK_QUEUE: 'uploads', HOST_ID: 'edge-7' });
    assert.equal(config.temporal.taskQueue, 'uploads');
    assert.equal(config.temporal.fileTaskQueue, 'uploads@edge-7');
    assert.throws(() => loadConfig({ ...minimal, HOST_ID: 'no spaces' }), /HOST_ID/);
    assert.throws(() => loadConfig({ ...minimal, UPLOAD_CONCURRENCY: '0' }), /UPLOAD_CONCURRENCY/);
    assert.throws(() => loadConfig({ ...minimal, MAX_CONCURRENT_UPLOADS: 'many' }), /MAX_CONCURRENT_UPLOADS/);
  });

  test('names every bad variable at once, without echoing secrets', () => {
    const error = (() => {
      try {
        loadConfig({ CHUNK_SIZE: 'huge', STREAM_IDLE_TIMEOUT: 'later', LOG_LEVEL: 'loud', S3_ENDPOINT: 'http://user:hunter2@minio:9000' });
      } catch (err) {
        return err;
      }
    })();
    assert.ok(error instanceof ConfigError);
    const names = error.problems.map((problem) => problem.split(/[: ]/)[0]);
    assert.deepEqual(names.sort(), ['CHUNK_SIZE', 'LOG_LEVEL', 'S3_BUCKET', 'S3_ENDPOINT', 'STREAM_IDLE_TIMEOUT']);
    assert.doesNotMatch(error.message, /hunter2/);
  });
});
