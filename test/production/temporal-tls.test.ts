import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { ANY_PORT } from '../../scripts/local-servers';
import { createBucket, s3ClientFor, startMinio, type S3Server } from '../../scripts/s3-servers';
import { loadConfig } from '../../src/config';
import { streamRef } from '../../src/stream/identity';
import { temporalConnectionOptions } from '../../src/temporal-connection';
import { startApp, type AppProcess } from '../support/app-process';
import { downloadStreamSha256, s3Env, waitForCompleteManifest } from '../support/bucket';
import { sha256File } from '../support/media';
import { makeJwtIssuer } from '../support/jwt';
import { startProductionTemporal, type ProductionTemporal } from '../support/temporal-postgres';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs';
import { waitUntil } from '../support/wait';

const ROOT = path.resolve(__dirname, '..', '..');
const CHUNK_SIZE = 64 * 1024;
const BUCKET = 'recordings';
const PREFIX = 'tls';
const NAMESPACE = 'default';
/** The CLI's own connect timeout is 5 s: a refused or unverifiable TLS must end well within this. */
const FAILURE_BOUND_MS = 20_000;
/** gRPC's status code PERMISSION_DENIED. */
const PERMISSION_DENIED = 7;

/**
 * The production Temporal server with TLS on its frontend and client certificates required
 * (mutual TLS), certificates made by `openssl`, and authorization on (the server's default JWT
 * claim mapper and authorizer): the CLI and the app reach it with the TEMPORAL_TLS_* variables and
 * an API key (TEMPORAL_API_KEY, a JWT signed by the key the server trusts), and are refused, with
 * a clear error and in bounded time, without the client certificate or trusting another CA, and
 * with no API key, a forged one or one for another namespace.
 */
describe('production Temporal server with mutual TLS and an API key', () => {
  let certs: TestCertificates;
  /** The app's and the CLI's: admin of the app's namespace only. */
  let apiKey: string;
  let tokens: ReturnType<typeof makeJwtIssuer>;
  let temporal: ProductionTemporal;
  let minio: S3Server;
  let s3: S3Client;
  let app: AppProcess | undefined;
  let workDir: string;

  before(async () => {
    const root = path.resolve(__dirname, '..', '.tmp');
    fs.mkdirSync(root, { recursive: true });
    workDir = fs.mkdtempSync(path.join(root, 'tls-'));
    certs = makeTestCertificates(path.join(workDir, 'certs'));
    tokens = makeJwtIssuer(path.join(workDir, 'certs', 'jwks.json'));
    apiKey = tokens.token({ sub: 'stream-uploader', permissions: [`${NAMESPACE}:admin`] });
    [temporal, minio] = await Promise.all([
      startProductionTemporal({
        namespace: NAMESPACE,
        frontendTls: {
          caFile: certs.ca,
          certFile: certs.server.cert,
          keyFile: certs.server.key,
          serverName: certs.serverName,
          clientCertFile: certs.client.cert,
          clientKeyFile: certs.client.key,
          requireClientAuth: true,
        },
        authorization: {
          jwksFile: tokens.jwksFile,
          // The helper's and create-namespace.sh's: creating a namespace is the cluster's business.
          apiKey: tokens.token({ sub: 'temporal-admin', permissions: ['temporal-system:admin'] }),
        },
      }),
      startMinio(),
    ]);
    await createBucket(minio, BUCKET);
    s3 = s3ClientFor(minio);
  });
  after(async () => {
    // Throwaway keys, but keys: they do not outlive the run (the logs do, for a look after a failure).
    if (certs) fs.rmSync(path.dirname(certs.ca), { recursive: true, force: true });
    await app?.stop('SIGKILL');
    s3?.destroy();
    await Promise.all([temporal?.stop(), minio?.stop()]);
  });

  /** The project's CLI (`npm run cli`'s command), with only the given environment; exit code, output and time taken. */
  async function cli(args: string[], env: Record<string, string>) {
    const started = Date.now();
    try {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'src', 'cli.ts'), ...args],
        { cwd: workDir, env: { PATH: process.env.PATH, ...env }, timeout: 60_000 },
      );
      return { code: 0, out: stdout + stderr, ms: Date.now() - started };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, out: failed.stdout + failed.stderr, ms: Date.now() - started };
    }
  }

  /** The app with `env`, refused by the server: its exit code (or still running after the bound), time taken and log. */
  async function refusedApp(env: Record<string, string>, logFile: string) {
    const refused = startApp(
      {
        ...env,
        S3_BUCKET: BUCKET,
        WATCH_DIR: workDir,
        METRICS_PORT: ANY_PORT,
        TEMPORAL_METRICS_PORT: ANY_PORT,
      },
      logFile,
    );
    const started = Date.now();
    const code = await Promise.race([
      new Promise<number | null>((resolve) => refused.child.once('exit', resolve)),
      new Promise<string>((resolve) => setTimeout(() => resolve('still running'), FAILURE_BOUND_MS)),
    ]);
    if (code === 'still running') await refused.stop('SIGKILL');
    return { code, ms: Date.now() - started, said: fs.readFileSync(logFile, 'utf8') };
  }

  const clientEnv = (): Record<string, string> => ({
    ...temporal.clientEnv,
    TEMPORAL_API_KEY: apiKey,
    TEMPORAL_NAMESPACE: temporal.namespace,
  });
  const withoutClientCert = () => {
    const env = clientEnv();
    delete env.TEMPORAL_TLS_CLIENT_CERT_PATH;
    delete env.TEMPORAL_TLS_CLIENT_KEY_PATH;
    return env;
  };

  test('the CLI, the connection module and the `temporal` CLI connect with the CA, the server name, the client certificate and the API key', async () => {
    // create-namespace.sh ran the official `temporal` CLI with the same TEMPORAL_TLS_* variables
    // and TEMPORAL_API_KEY (without it, describing and creating the namespace are refused).
    temporal.namespaceRuns.forEach((run, i) =>
      assert.equal(run.status, 0, `create-namespace.sh, run ${i + 1}, over mutual TLS with an API key:\n${run.output}`),
    );
    const env = clientEnv();
    const config = loadConfig(env, workDir, { needsBucket: false });
    assert.ok(config.temporal.tls?.clientCertPair, 'the client certificate and key were read');
    assert.equal(config.temporal.apiKey?.reveal(), apiKey, 'the API key was read');
    const connection = await Connection.connect({
      ...temporalConnectionOptions(config.temporal),
      connectTimeout: 5000,
    });
    try {
      const { namespaceInfo } = await connection.workflowService.describeNamespace({ namespace: temporal.namespace });
      assert.equal(namespaceInfo?.name, temporal.namespace);
      // A namespace just created is unknown to a SQL-backed frontend's registry for a few seconds.
      await waitUntil(
        () =>
          connection.workflowService.countWorkflowExecutions({ namespace: temporal.namespace }).then(
            () => true,
            () => false,
          ),
        30_000,
      );
    } finally {
      await connection.close();
    }
    const listed = await cli(['list', '--all'], env);
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, /WORKFLOW ID\s+STATUS\s+UPLOADED\s+HOST\s+PATH/);
  });

  test('refused, with a clear error and in bounded time: no client certificate, another CA, another server name, no TLS', async () => {
    const env = clientEnv();
    // Each with what the error must say.
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [
        'no client certificate',
        withoutClientCert(),
        /TLS failed: the server requires a client certificate .*: set TEMPORAL_TLS_CLIENT_CERT_PATH/,
      ],
      [
        'another CA',
        { ...env, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.otherCa },
        /TLS failed: the server's certificate is not signed by a CA this client trusts .*TEMPORAL_TLS_SERVER_CA_CERT_PATH/,
      ],
      [
        'another server name',
        { ...env, TEMPORAL_TLS_SERVER_NAME: 'not-the-server.example' },
        /TLS failed: .*not-the-server\.example.*: check TEMPORAL_TLS_SERVER_NAME/,
      ],
      [
        'no TLS',
        { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace },
        /the server speaks TLS: set TEMPORAL_TLS=true/,
      ],
    ];
    const runs = await Promise.all(
      cases.map(async ([name, caseEnv, says]) => ({ name, says, ...(await cli(['list'], caseEnv)) })),
    );
    for (const run of runs) {
      assert.equal(run.code, 2, `${run.name}: exit 2\n${run.out}`);
      assert.match(run.out, run.says, run.name);
      assert.match(
        run.out,
        new RegExp(`^cannot reach Temporal at ${temporal.address.replace(/\./g, '\\.')}: `, 'm'),
        `${run.name}: ${run.out}`,
      );
      assert.ok(run.ms < FAILURE_BOUND_MS, `${run.name}: failed after ${run.ms} ms`);
      assert.doesNotMatch(run.out, /BEGIN|PRIVATE KEY/, `${run.name}: no key or certificate in the error`);
      assert.ok(!run.out.includes(apiKey.split('.')[2]), `${run.name}: no API key in the error`);
    }
    console.log('tls failures', JSON.stringify(runs.map(({ name, ms, out }) => ({ name, ms, out: out.trim() }))));

    // The app (the worker's connection is Rust core's, not the CLI's) stops too, and says why.
    const { code, ms, said } = await refusedApp(withoutClientCert(), path.join(workDir, 'refused-app.log'));
    console.log('app refused', JSON.stringify({ ms, code }));
    assert.equal(code, 1, `the app without its client certificate exits 1 (${ms} ms): ${said}`);
    assert.ok(!said.includes(apiKey.split('.')[2]), "the API key is not in the app's log");
    assert.match(said, /cannot reach Temporal at .*requires a client certificate.*set TEMPORAL_TLS_CLIENT_CERT_PATH/);
  });

  test('refused by the server, with PermissionDenied and in bounded time: no API key, a forged one, one for another namespace', async () => {
    const env = clientEnv();
    const withoutKey = { ...env };
    delete withoutKey.TEMPORAL_API_KEY;
    // The same key id and claims, signed by another private key: only the signature gives it away.
    const forger = makeJwtIssuer(null, tokens.kid);
    const cases: Array<[string, Record<string, string>]> = [
      ['no API key', withoutKey],
      [
        'an API key signed by another private key',
        { ...env, TEMPORAL_API_KEY: forger.token({ sub: 'stream-uploader', permissions: [`${NAMESPACE}:admin`] }) },
      ],
      [
        "an API key for another namespace's admin",
        {
          ...env,
          TEMPORAL_API_KEY: tokens.token({ sub: 'stream-uploader', permissions: ['another-namespace:admin'] }),
        },
      ],
    ];
    const runs = await Promise.all(
      cases.map(async ([name, caseEnv], i) => {
        // The connection module, as the app's client and the CLI use it. A token the server cannot
        // verify is refused on every call, connect's GetSystemInfo included; no token, or one without
        // the namespace, gets the health checks only (GetSystemInfo), and then DescribeNamespace is refused.
        const config = loadConfig(caseEnv, workDir, { needsBucket: false });
        const started = Date.now();
        const refusal = await (async () => {
          const connection = await Connection.connect({
            ...temporalConnectionOptions(config.temporal),
            connectTimeout: 5000,
          });
          try {
            await connection.workflowService.describeNamespace({ namespace: temporal.namespace });
          } finally {
            await connection.close();
          }
        })().then(
          () => undefined,
          // Connection.connect wraps GetSystemInfo's gRPC error (its cause) in a ServiceError.
          (err: Error & { code?: number; cause?: Error & { code?: number } }) => (err.code ? err : err.cause),
        );
        const refusalMs = Date.now() - started;
        const [cliRun, appRun] = await Promise.all([
          cli(['list'], caseEnv),
          refusedApp(caseEnv, path.join(workDir, `unauthorized-app-${i}.log`)),
        ]);
        return { name, key: caseEnv.TEMPORAL_API_KEY, refusal, refusalMs, cli: cliRun, app: appRun };
      }),
    );
    console.log(
      'authorization refusals',
      JSON.stringify(
        runs.map(({ name, refusalMs, cli: { code, ms, out }, app }) => ({
          name,
          refusalMs,
          cli: { code, ms, out: out.trim().split('\n')[0] },
          app: { code: app.code, ms: app.ms, said: app.said.trim().split('\n')[0] },
        })),
      ),
    );
    for (const { name, key, refusal, refusalMs, cli: cliRun, app: appRun } of runs) {
      assert.equal(refusal?.code, PERMISSION_DENIED, `${name}: ${refusal?.message ?? 'DescribeNamespace answered'}`);
      assert.ok(refusalMs < FAILURE_BOUND_MS, `${name}: refused after ${refusalMs} ms`);
      assert.notEqual(cliRun.code, 0, `${name}: the CLI fails\n${cliRun.out}`);
      assert.match(
        cliRun.out,
        /the server refused the credentials .*check TEMPORAL_API_KEY/,
        `${name}: the CLI says why`,
      );
      assert.ok(cliRun.ms < FAILURE_BOUND_MS, `${name}: the CLI failed after ${cliRun.ms} ms`);
      // The app stops at start-up (registering its search attributes, or connecting), and says why.
      assert.equal(appRun.code, 1, `${name}: the app exits 1 (${appRun.ms} ms): ${appRun.said}`);
      assert.match(appRun.said, /PERMISSION_DENIED|does not have permission/, name);
      assert.match(appRun.said, /the server refused the credentials/, `${name}: the app says why`);
      for (const said of [cliRun.out, appRun.said])
        assert.ok(!key || !said.includes(key.split('.')[2]), `${name}: the API key is not in the error`);
    }
  });

  test('the app uploads a file end to end over mutual TLS with an API key, byte for byte', async () => {
    const watchDir = path.join(workDir, 'watch');
    fs.mkdirSync(watchDir);
    const logFile = path.join(workDir, 'app.log');
    app = startApp(
      {
        ...clientEnv(),
        ...s3Env(minio, BUCKET),
        S3_PREFIX: PREFIX,
        TEMPORAL_TASK_QUEUE: `tls-${process.pid}`,
        WATCH_DIR: watchDir,
        CHUNK_SIZE: String(CHUNK_SIZE),
        STREAM_IDLE_TIMEOUT: '1s',
        WATCH_COALESCE_INTERVAL: '100ms',
        METRICS_PORT: ANY_PORT,
        TEMPORAL_METRICS_PORT: ANY_PORT,
        SHUTDOWN_GRACE_TIME: '5s',
        LOG_LEVEL: 'debug',
      },
      logFile,
    );
    const appLog = () => `app log ${logFile}; server log ${temporal.logFile}`;
    const startedLine = await app.waitForLog((line) => line.msg === 'stream-uploader started', 60_000);
    assert.deepEqual(startedLine.temporalSecurity, { tls: 'mutual', apiKey: true });
    await app.waitForLog((line) => line.msg === 'watching for recordings', 30_000);

    const relPath = 'over-tls.mp4';
    const file = path.join(watchDir, relPath);
    fs.writeFileSync(file, randomBytes(3 * CHUNK_SIZE + 12_345));
    const stats = fs.statSync(file);
    const stream = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, PREFIX);
    const manifest = await waitForCompleteManifest(s3, BUCKET, stream.prefix, 30_000, appLog);
    assert.equal(manifest.totalSize, stats.size);
    assert.equal(manifest.chunks.length, 4);
    assert.equal(
      await downloadStreamSha256(s3, BUCKET, manifest),
      await sha256File(file),
      'the chunks, concatenated as metadata.json lists them, equal the file byte for byte',
    );
    assert.deepEqual(app.strayLines, [], 'stdout is JSON lines only');
    assert.equal(await app.stop('SIGTERM'), 0, 'graceful shutdown exits 0');
    app = undefined;
    const keyBody = fs.readFileSync(certs.client.key, 'utf8').split('\n')[1];
    const logged = fs.readFileSync(logFile, 'utf8');
    assert.ok(!logged.includes(keyBody), "the client key's contents are not in the app's log");
    // Nor the API key, whole or any of its parts (header, claims, signature).
    for (const part of [apiKey, ...apiKey.split('.')])
      assert.ok(!logged.includes(part), "the API key is not in the app's log");
  });
});
