import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  freePort,
  requireCommand,
  retryPortClash,
  scratchDir,
  sleep,
  supervise,
  toolPath,
  waitUntil,
  type RunningServer,
  type Supervised,
} from './local-servers';

/**
 * S3 servers on loopback: MinIO (the compose stack's, for the tests), moto (a second S3
 * implementation for the tests) and s3proxy (the local mode's), and a client for each.
 */

export interface S3Server extends RunningServer {
  endpoint: string;
  /** Where a browser shows the bucket; absent for a server without one. */
  consoleUrl?: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  dataDir: string;
  port: number;
  /** Stops the process, keeping its data, leaves it down for `downForMs`, and starts it again on the same port. */
  restart(downForMs?: number): Promise<void>;
}

type MinioOptions = {
  port?: number;
  consolePort?: number;
  dataDir?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  logFile?: string;
  /**
   * Gives MinIO a KMS key of this name (a random 32-byte secret), so that it takes server-side
   * encryption: S3_SSE=AES256, and aws:kms with this name as the key id.
   */
  kmsKeyName?: string;
};

export async function startMinio(opts: MinioOptions = {}): Promise<S3Server> {
  return retryPortClash(() => startMinioOnce(opts));
}

async function startMinioOnce(opts: MinioOptions): Promise<S3Server> {
  const port = opts.port ?? (await freePort());
  const consolePort = opts.consolePort ?? (await freePort());
  const scratch = scratchDir('minio');
  const dataDir = opts.dataDir ?? path.join(scratch, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const accessKeyId = opts.accessKeyId ?? `test-${randomBytes(4).toString('hex')}`;
  const secretAccessKey = opts.secretAccessKey ?? randomBytes(18).toString('base64url');
  const endpoint = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    MINIO_ROOT_USER: accessKeyId,
    MINIO_ROOT_PASSWORD: secretAccessKey,
    ...(opts.kmsKeyName && { MINIO_KMS_SECRET_KEY: `${opts.kmsKeyName}:${randomBytes(32).toString('base64')}` }),
  };
  const args = [
    'server',
    dataDir,
    '--address',
    `127.0.0.1:${port}`,
    '--console-address',
    `127.0.0.1:${consolePort}`,
    '--quiet',
  ];
  const logFile = opts.logFile ?? path.join(scratch, 'minio.log');

  async function launch(): Promise<Supervised> {
    const server = supervise(toolPath('minio'), args, env, logFile);
    await waitUntil(
      'minio',
      server,
      async () => (await fetch(`${endpoint}/minio/health/ready`, { signal: AbortSignal.timeout(2000) })).status === 200,
    );
    return server;
  }
  let server = await launch().catch((err: Error) => {
    fs.rmSync(scratch, { recursive: true, force: true });
    throw err;
  });
  return {
    endpoint,
    consoleUrl: `http://127.0.0.1:${consolePort}`,
    accessKeyId,
    secretAccessKey,
    region: 'us-east-1',
    dataDir,
    port,
    async restart(downForMs = 0) {
      await server.stop();
      await sleep(downForMs);
      server = await launch();
    },
    async stop() {
      await server.stop();
      fs.rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/**
 * moto's S3 server, a second S3 implementation, keeping its objects in memory: it cannot restart.
 * It takes any credentials.
 */
export async function startMoto(): Promise<S3Server> {
  return retryPortClash(async () => {
    const port = await freePort();
    const scratch = scratchDir('moto');
    const endpoint = `http://127.0.0.1:${port}`;
    const server = supervise(
      toolPath('moto_server'),
      ['-H', '127.0.0.1', '-p', String(port)],
      process.env,
      path.join(scratch, 'moto.log'),
    );
    await waitUntil('moto_server', server, async () => (await fetch(`${endpoint}/moto-api/`)).ok).catch(
      (err: Error) => {
        fs.rmSync(scratch, { recursive: true, force: true });
        throw err;
      },
    );
    return {
      endpoint,
      consoleUrl: `${endpoint}/moto-api/`,
      accessKeyId: 'moto-test',
      secretAccessKey: randomBytes(18).toString('base64url'),
      region: 'us-east-1',
      dataDir: scratch,
      port,
      restart: () => Promise.reject(new Error('moto keeps its objects in memory: it cannot restart')),
      async stop() {
        await server.stop();
        fs.rmSync(scratch, { recursive: true, force: true });
      },
    };
  });
}

type S3ProxyOptions = {
  port?: number;
  dataDir: string;
  logFile: string;
  accessKeyId: string;
  secretAccessKey: string;
};

/**
 * s3proxy (a jar from Maven Central, run by Java 17) serving the folder `dataDir` as S3: the
 * local mode's S3 server. Like MinIO it keeps each object's SHA-256 and refuses a body that does
 * not match it, which the app's uploads rely on; unlike MinIO it installs in seconds, where
 * MinIO is built from source for minutes. It has no console.
 */
export async function startS3Proxy(opts: S3ProxyOptions): Promise<S3Server> {
  const port = opts.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const objects = path.join(opts.dataDir, 'objects');
  fs.mkdirSync(objects, { recursive: true });
  // Its settings hold the secret key: readable by this user only.
  const settings = path.join(opts.dataDir, 's3proxy.properties');
  fs.writeFileSync(
    settings,
    [
      `s3proxy.endpoint=${endpoint}`,
      's3proxy.authorization=aws-v2-or-v4',
      `s3proxy.identity=${opts.accessKeyId}`,
      `s3proxy.credential=${opts.secretAccessKey}`,
      'jclouds.provider=filesystem-nio2',
      `jclouds.filesystem.basedir=${objects}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const server = supervise(
    requireCommand('java'),
    ['-jar', toolPath('s3proxy.jar'), '--properties', settings],
    process.env,
    opts.logFile,
  );
  // Any answer will do: an unsigned request is refused, but only once the server is up.
  await waitUntil(
    's3proxy',
    server,
    async () => (await fetch(endpoint, { signal: AbortSignal.timeout(2000) })).status > 0,
  );
  return {
    endpoint,
    accessKeyId: opts.accessKeyId,
    secretAccessKey: opts.secretAccessKey,
    region: 'us-east-1',
    dataDir: opts.dataDir,
    port,
    restart: () => Promise.reject(new Error('the local mode never restarts its S3 server')),
    stop: () => server.stop(),
  };
}

/** A client with the server's root credentials (for setup and for checks independent of the app). */
export function s3ClientFor(s3: Pick<S3Server, 'endpoint' | 'region' | 'accessKeyId' | 'secretAccessKey'>): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}

export async function createBucket(s3: S3Server, bucket: string): Promise<void> {
  const client = s3ClientFor(s3);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    if ((err as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw err;
  } finally {
    client.destroy();
  }
}
