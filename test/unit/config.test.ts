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
    assert.equal(config.metricsHost, '127.0.0.1', 'nothing listens beyond loopback unless asked');
  });

  test('a process runs all by default; an edge needs the bucket, a workflow process does not', () => {
    assert.equal(loadConfig(minimal).role, 'all');
    assert.equal(loadConfig({ ROLE: 'workflow' }).role, 'workflow');
    assert.throws(() => loadConfig({ ROLE: 'edge' }), /S3_BUCKET is required/);
    assert.throws(() => loadConfig({ ...minimal, ROLE: 'camera' }), /ROLE is not one of all, edge, workflow/);
  });

  test('metrics listen where the operator says, given as an IP address', () => {
    assert.equal(loadConfig({ ...minimal, METRICS_HOST: '0.0.0.0' }).metricsHost, '0.0.0.0');
    assert.equal(loadConfig({ ...minimal, METRICS_HOST: '::1' }).metricsHost, '::1');
    assert.throws(() => loadConfig({ ...minimal, METRICS_HOST: 'everywhere' }), /METRICS_HOST must be an IP address/);
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

  test('bounds every size and duration: a timer past 2^31 ms would fire at once, a 1-byte chunk floods the bucket', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ ...minimal, ...env });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    assert.deepEqual(problems({ CHUNK_SIZE: '1' }), ['CHUNK_SIZE must be from 1KiB to 5GiB']);
    assert.deepEqual(problems({ CHUNK_SIZE: '6GiB' }), ['CHUNK_SIZE must be from 1KiB to 5GiB']);
    assert.deepEqual(problems({ STREAM_IDLE_TIMEOUT: '600h' }), ['STREAM_IDLE_TIMEOUT must be from 100ms to 24h']);
    assert.deepEqual(problems({ WATCH_COALESCE_INTERVAL: '0' }), ['WATCH_COALESCE_INTERVAL must be from 10ms to 1m']);
    assert.deepEqual(problems({ WATCH_RESCAN_INTERVAL: '100ms' }), ['WATCH_RESCAN_INTERVAL must be from 1s to 24h']);
    assert.deepEqual(problems({ S3_REQUEST_TIMEOUT: '2h' }), ['S3_REQUEST_TIMEOUT must be from 1s to 1h']);
    assert.deepEqual(problems({ SHUTDOWN_GRACE_TIME: '1000h' }), ['SHUTDOWN_GRACE_TIME must be from 0s to 1h']);
    assert.deepEqual(
      problems({
        CHUNK_SIZE: '1KiB',
        STREAM_IDLE_TIMEOUT: '24h',
        WATCH_COALESCE_INTERVAL: '10ms',
        SHUTDOWN_GRACE_TIME: '0',
      }),
      [],
    );
    assert.deepEqual(problems({ TEMPORAL_TASK_QUEUE: 'uploads\u0007' }), [
      'TEMPORAL_TASK_QUEUE must be 1 to 200 printable characters',
    ]);
    assert.deepEqual(
      problems({ TEMPORAL_TASK_QUEUE: "it's uploads" }),
      [],
      'a quote is escaped in queries, not refused',
    );
  });

  test('names every bad variable at once, without echoing secrets', () => {
    const error = (() => {
      try {
        loadConfig({
          CHUNK_SIZE: 'huge',
          STREAM_IDLE_TIMEOUT: 'later',
          LOG_LEVEL: 'loud',
          S3_ENDPOINT: 'http://user:hunter2@minio:9000',
          // A secret pasted into the wrong variable.
          S3_REGION: 'eu-west-1',
          METRICS_PORT: 'wJalrXUtnFEMI-secret',
          TEMPORAL_ADDRESS: 'localhost:7233',
          COMPLETION_WEBHOOK_URL: 'not a url hunter3',
        });
      } catch (err) {
        return err;
      }
    })();
    assert.ok(error instanceof ConfigError);
    const names = error.problems.map((problem) => problem.split(/[: ]/)[0]);
    assert.deepEqual(names.sort(), [
      'CHUNK_SIZE',
      'COMPLETION_WEBHOOK_URL',
      'LOG_LEVEL',
      'METRICS_PORT',
      'S3_BUCKET',
      'S3_ENDPOINT',
      'STREAM_IDLE_TIMEOUT',
    ]);
    assert.doesNotMatch(error.message, /hunter2|hunter3|wJalrXUtnFEMI|huge|later|loud/);
    assert.match(error.message, /COMPLETION_WEBHOOK_URL is not a URL/);
  });
});
