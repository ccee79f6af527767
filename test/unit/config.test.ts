import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  ConfigError,
  developmentCredentials,
  developmentCredentialsWarning,
  loadConfig,
  loadDotEnv,
  parseBoolean,
  parseDuration,
  parseSize,
} from '../../src/config';
import { createLogger } from '../../src/logger';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs';

const minimal = { S3_BUCKET: 'recordings' };

/** The problems loadConfig finds in `minimal` with `env` laid over it; none when it loads. */
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...minimal, ...env });
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
}
const ROOT = path.resolve(__dirname, '..', '..');

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
    assert.equal(config.uploadConcurrency, 2);
    assert.equal(config.maxConcurrentUploads, 8);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.metricsHost, '127.0.0.1', 'nothing listens beyond loopback unless asked');
    assert.equal(config.afterUpload, 'keep', 'a recording is never deleted unless asked');
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

  test('bounds counts and ports, whole numbers only; a blank HOST_ID is the hostname, as an unset one', () => {
    assert.deepEqual(problems({ UPLOAD_CONCURRENCY: '17', MAX_CONCURRENT_UPLOADS: '1.5', METRICS_PORT: '65536' }), [
      'UPLOAD_CONCURRENCY is not a whole number from 1 to 16',
      'MAX_CONCURRENT_UPLOADS is not a whole number from 1 to 256',
      'METRICS_PORT is not a port (0-65535)',
    ]);
    assert.deepEqual(
      problems({ UPLOAD_CONCURRENCY: '16', MAX_CONCURRENT_UPLOADS: '1', TEMPORAL_METRICS_PORT: '0' }),
      [],
    );
    assert.equal(loadConfig({ ...minimal, HOST_ID: ' ' }).hostId, os.hostname());
  });

  test('UPLOAD_RATE_LIMIT, S3_SSE, S3_STORAGE_CLASS and WATCH_PATTERNS: off and *.mp4 by default', () => {
    const defaults = loadConfig(minimal);
    assert.equal(defaults.uploadRateLimit, undefined);
    assert.equal(defaults.s3.sse, undefined);
    assert.equal(defaults.s3.storageClass, undefined);
    assert.deepEqual(defaults.watchPatterns, ['*.mp4']);
    const set = loadConfig({
      ...minimal,
      UPLOAD_RATE_LIMIT: '5MiB/s',
      S3_SSE: 'aws:kms',
      S3_SSE_KMS_KEY_ID: 'alias/recordings',
      S3_STORAGE_CLASS: 'standard_ia',
      WATCH_PATTERNS: ' *.mp4, *.mov ,*.mkv,',
    });
    assert.equal(set.uploadRateLimit, 5 * 2 ** 20);
    assert.deepEqual(set.s3.sse, { type: 'aws:kms', kmsKeyId: 'alias/recordings' });
    assert.equal(set.s3.storageClass, 'STANDARD_IA');
    assert.deepEqual(set.watchPatterns, ['*.mp4', '*.mov', '*.mkv']);
    assert.equal(loadConfig({ ...minimal, UPLOAD_RATE_LIMIT: '800000' }).uploadRateLimit, 800_000);
    assert.deepEqual(loadConfig({ ...minimal, S3_SSE: 'aes256' }).s3.sse, { type: 'AES256' });
  });

  test('rejects a bad rate, encryption, storage class or pattern with the reason', () => {
    assert.deepEqual(problems({ UPLOAD_RATE_LIMIT: 'fast' }), [
      'UPLOAD_RATE_LIMIT is not a size (examples: 10485760, 10MiB, 512KiB, 5MB)',
    ]);
    assert.match(problems({ UPLOAD_RATE_LIMIT: '100' })[0], /UPLOAD_RATE_LIMIT must be at least 1KiB/);
    assert.match(problems({ S3_SSE: 'kms' })[0], /S3_SSE is not AES256 .* or aws:kms/);
    assert.match(
      problems({ S3_SSE: 'AES256', S3_SSE_KMS_KEY_ID: 'k1' })[0],
      /S3_SSE_KMS_KEY_ID is set, but S3_SSE is not aws:kms/,
    );
    assert.match(problems({ S3_SSE_KMS_KEY_ID: 'k1' })[0], /S3_SSE_KMS_KEY_ID is set/);
    assert.match(problems({ S3_STORAGE_CLASS: 'GLACIER' })[0], /S3_STORAGE_CLASS cannot be GLACIER .* need a restore/);
    assert.match(problems({ S3_STORAGE_CLASS: 'COLD' })[0], /S3_STORAGE_CLASS is not one of STANDARD, /);
    assert.match(problems({ WATCH_PATTERNS: ' , ' })[0], /WATCH_PATTERNS must list at least one/);
    assert.match(
      problems({ WATCH_PATTERNS: '*.mp4,cam/*.mkv' })[0],
      /WATCH_PATTERNS patterns match file names, not paths/,
    );
    assert.match(problems({ WATCH_PATTERNS: '.mkv' })[0], /WATCH_PATTERNS patterns must not start with "\."/);
    assert.deepEqual(problems({ AFTER_UPLOAD: 'remove' }), ['AFTER_UPLOAD is not one of keep, delete']);
    assert.equal(loadConfig({ ...minimal, AFTER_UPLOAD: ' Delete ' }).afterUpload, 'delete');
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

  describe('a secured Temporal: TLS, mutual TLS, an API key', () => {
    let certs: TestCertificates;
    let dir: string;
    const API_KEY = 'tcld-apikey-hunter42-0123456789abcdef';
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ ...minimal, ...env }, dir);
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-tls-'));
      certs = makeTestCertificates(path.join(dir, 'certs'));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('reads the CA, the server name and the client certificate and key; any of them turns TLS on', () => {
      const config = loadConfig(
        {
          ...minimal,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca,
          TEMPORAL_TLS_SERVER_NAME: 'localhost',
          // Relative paths are from the working directory.
          TEMPORAL_TLS_CLIENT_CERT_PATH: path.relative(dir, certs.client.cert),
          TEMPORAL_TLS_CLIENT_KEY_PATH: certs.client.key,
        },
        dir,
      );
      const tls = config.temporal.tls!;
      assert.deepEqual(tls.serverRootCACertificate, fs.readFileSync(certs.ca));
      assert.equal(tls.serverNameOverride, 'localhost');
      assert.deepEqual(tls.clientCertPair!.crt, fs.readFileSync(certs.client.cert));
      assert.deepEqual(tls.clientCertPair!.key.reveal(), fs.readFileSync(certs.client.key));
      assert.equal(config.temporal.apiKey, undefined);
      assert.deepEqual(loadConfig({ ...minimal, TEMPORAL_TLS: 'true' }).temporal.tls, {}, "TLS with the system's CAs");
      assert.deepEqual(loadConfig({ ...minimal, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' }).temporal.tls, {
        serverNameOverride: 'temporal.internal',
      });
      assert.equal(loadConfig(minimal).temporal.tls, undefined, 'plain TCP by default');
    });

    test('a client certificate without its key, or a key without its certificate, is refused naming both', () => {
      const both =
        'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together: set both (mutual TLS) or neither';
      assert.deepEqual(problems({ TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.cert }), [both]);
      assert.deepEqual(problems({ TEMPORAL_TLS_CLIENT_KEY_PATH: certs.client.key }), [both]);
      assert.deepEqual(
        problems({ TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.cert, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.server.key }),
        ["TEMPORAL_TLS_CLIENT_KEY_PATH is not the private key of TEMPORAL_TLS_CLIENT_CERT_PATH's certificate"],
      );
    });

    test('a missing, unreadable or non-PEM file is named with its variable and path, never its contents', () => {
      const missing = path.join(dir, 'nowhere', 'ca.pem');
      assert.deepEqual(problems({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing }), [
        `TEMPORAL_TLS_SERVER_CA_CERT_PATH names ${missing}, which cannot be read (ENOENT)`,
      ]);
      assert.deepEqual(problems({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: dir }), [
        `TEMPORAL_TLS_SERVER_CA_CERT_PATH names ${dir}, which cannot be read (EISDIR)`,
      ]);
      const notPem = path.join(dir, 'not-pem.txt');
      fs.writeFileSync(notPem, 'sekrit-not-a-certificate\n');
      // The key where the certificate belongs, and the other way round.
      assert.deepEqual(
        problems({
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: notPem,
          TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.key,
          TEMPORAL_TLS_CLIENT_KEY_PATH: certs.client.cert,
        }),
        [
          `TEMPORAL_TLS_SERVER_CA_CERT_PATH names ${notPem}, which is not a PEM certificate`,
          `TEMPORAL_TLS_CLIENT_CERT_PATH names ${certs.client.key}, which is not a PEM certificate`,
          `TEMPORAL_TLS_CLIENT_KEY_PATH names ${certs.client.cert}, which is not a PEM private key (unencrypted)`,
        ],
      );
      const all = problems({
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: notPem,
        TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.key,
        TEMPORAL_TLS_CLIENT_KEY_PATH: certs.client.cert,
      }).join('\n');
      assert.doesNotMatch(all, /sekrit|BEGIN|-----/);
    });

    test('a PEM pasted where its path belongs is refused naming the variable, never echoing the contents', () => {
      const keyPem = fs.readFileSync(certs.client.key, 'utf8');
      const certPem = fs.readFileSync(certs.client.cert, 'utf8');
      const keyBase64 = keyPem.replace(/-----[A-Z ]+-----|\s/g, '');
      const pasted = {
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: certPem,
        TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: keyPem,
      };
      const wrong = problems(pasted);
      assert.deepEqual(wrong, [
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH looks like a PEM certificate, not a path: set it to the file's path",
        "TEMPORAL_TLS_CLIENT_KEY_PATH looks like a PEM private key, not a path: set it to the file's path",
      ]);
      // As .env files and shells also carry it: on one line with \n escapes, without its PEM lines.
      for (const key of [keyPem.replace(/\n/g, '\\n'), keyBase64, keyPem.split('\n').slice(1, -2).join('\n')]) {
        const [problem] = problems({
          ...pasted,
          TEMPORAL_TLS_SERVER_CA_CERT_PATH: '',
          TEMPORAL_TLS_CLIENT_KEY_PATH: key,
        });
        assert.match(problem, /^TEMPORAL_TLS_CLIENT_KEY_PATH (looks like|spans several lines)/);
        wrong.push(problem);
      }
      const shown = wrong.join('\n');
      for (const line of [...keyPem.split('\n'), ...certPem.split('\n')].filter((l) => l.length > 8))
        assert.ok(!shown.includes(line), `the error shows ${line}`);
      assert.ok(!shown.includes(keyBase64.slice(0, 16)), 'the error shows the key');
    });

    test('TEMPORAL_TLS=false with TLS settings or an API key is a contradiction, not a silent downgrade', () => {
      assert.deepEqual(
        problems({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca, TEMPORAL_API_KEY: API_KEY }),
        [
          'TEMPORAL_TLS is false, but TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_API_KEY need TLS: unset them or TEMPORAL_TLS',
        ],
      );
      assert.deepEqual(problems({ TEMPORAL_TLS: 'maybe' }), ['TEMPORAL_TLS is not a boolean (true or false)']);
      assert.deepEqual(problems({ TEMPORAL_TLS_SERVER_NAME: 'not a host' }), [
        'TEMPORAL_TLS_SERVER_NAME is not a host name or IP address',
      ]);
    });

    test('the API key turns TLS on and never shows: not in errors, JSON, util.inspect, strings or the logs', async () => {
      const config = loadConfig({ ...minimal, TEMPORAL_API_KEY: ` ${API_KEY}\n` });
      assert.equal(config.temporal.apiKey!.reveal(), API_KEY, 'trimmed');
      assert.deepEqual(config.temporal.tls, {}, 'an API key implies TLS');

      const mtls = loadConfig({
        ...minimal,
        TEMPORAL_API_KEY: API_KEY,
        TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: certs.client.key,
      });
      const keyBody = fs.readFileSync(certs.client.key, 'utf8').split('\n')[1];
      const keyHex = fs.readFileSync(certs.client.key).subarray(0, 24).toString('hex').match(/../g)!.join(' ');
      let logged = '';
      const logger = createLogger(
        'info',
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            logged += chunk.toString();
            callback();
          },
        }),
      );
      logger.info({ config: mtls }, 'the whole config');
      logger.info({ temporal: mtls.temporal, apiKey: mtls.temporal.apiKey }, 'its Temporal part');
      const shown = [
        JSON.stringify(mtls),
        inspect(mtls, { depth: null }),
        `${mtls.temporal.apiKey}`,
        String(mtls.temporal.tls!.clientCertPair!.key),
        logged,
      ];
      assert.match(logged, /the whole config/);
      assert.match(logged, /"apiKey":"\[redacted\]"/);
      for (const text of shown) {
        assert.ok(!text.includes(API_KEY), `the API key shows in ${text.slice(0, 200)}`);
        assert.ok(!text.includes(keyBody), `the client key shows in ${text.slice(0, 200)}`);
        assert.ok(!text.includes(keyHex), `the client key's bytes show in ${text.slice(0, 200)}`);
      }

      // A bad API key and other problems: the errors name the variable only.
      const wrong = problems({
        TEMPORAL_API_KEY: `${API_KEY} with spaces`,
        TEMPORAL_TLS: 'false',
        CHUNK_SIZE: API_KEY,
      });
      assert.deepEqual(wrong.sort(), [
        'CHUNK_SIZE is not a size (examples: 10485760, 10MiB, 512KiB, 5MB)',
        'TEMPORAL_API_KEY must be printable ASCII without spaces',
        'TEMPORAL_TLS is false, but TEMPORAL_API_KEY need TLS: unset them or TEMPORAL_TLS',
      ]);
      assert.ok(!wrong.join('\n').includes('hunter42'));
    });
  });

  describe('development credentials: every variable still at a password published in this repository', () => {
    /** What docker-compose.yml falls back to, `${NAME:-dev-only-...}`, and what example.env sets. */
    const composeDefaults = Object.fromEntries(
      [
        ...fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8').matchAll(/\$\{(\w+):-(dev-only-[\w-]+)\}/g),
      ].map(([, name, value]) => [name, value]),
    );
    const exampleEnv: NodeJS.ProcessEnv = {};
    loadDotEnv(path.join(ROOT, 'example.env'), exampleEnv);
    const everyPassword = [
      'AWS_SECRET_ACCESS_KEY',
      'MINIO_APP_PASSWORD',
      'MINIO_ROOT_PASSWORD',
      'POSTGRES_PASSWORD',
      'GRAFANA_ADMIN_PASSWORD',
    ];

    test("names each one, compose's defaults and example.env's", () => {
      // The compose app's AWS_SECRET_ACCESS_KEY is MINIO_APP_PASSWORD's default.
      const compose = { ...composeDefaults, AWS_SECRET_ACCESS_KEY: composeDefaults.MINIO_APP_PASSWORD };
      assert.deepEqual(developmentCredentials(compose), everyPassword);
      assert.deepEqual(developmentCredentials(exampleEnv), everyPassword);
      for (const name of everyPassword)
        assert.deepEqual(developmentCredentials({ [name]: exampleEnv[name] }), [name], `${name} alone`);
    });

    test('says nothing of passwords changed or unset, and never prints one', () => {
      const changed = Object.fromEntries(everyPassword.map((name) => [name, `${name}-changed-0d9f`]));
      assert.deepEqual(developmentCredentials(changed), []);
      assert.deepEqual(developmentCredentials({}), []);
      const warning = developmentCredentialsWarning(developmentCredentials(exampleEnv));
      for (const name of everyPassword) assert.match(warning, new RegExp(name));
      for (const value of [...Object.values(composeDefaults), ...everyPassword.map((name) => exampleEnv[name]!)])
        assert.ok(!warning.includes(value), `the warning shows ${value}`);
    });
  });
});
