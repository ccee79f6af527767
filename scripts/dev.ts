import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { startTemporal } from './local-servers';
import { createBucket, startS3Proxy } from './s3-servers';
import { readableLogLine } from './readable-log';
import { APP_MALLOC_ENV, APP_NODE_FLAGS } from '../src/process-memory';

/**
 * Local mode without Docker: the Temporal dev server (Web UI, state in a SQLite file), an S3
 * server on a folder (s3proxy) with the bucket, and the app watching ./input-videos, all on
 * loopback. Ctrl-C stops all three. State lives under DEV_DATA_DIR, so a restart resumes where it
 * stopped.
 */

const env = process.env;
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);
const root = path.resolve(__dirname, '..');
const dataDir = path.resolve(root, env.DEV_DATA_DIR ?? '.data');
const watchDir = path.resolve(root, env.WATCH_DIR ?? 'input-videos');
const bucket = env.S3_BUCKET ?? 'recordings';

/** The S3 server's credentials, made once and kept with its data so a restart can read old objects. */
function credentials(): { accessKeyId: string; secretAccessKey: string } {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY)
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY };
  const file = path.join(dataDir, 's3-credentials.json');
  if (!fs.existsSync(file)) {
    const made = { accessKeyId: 'stream-uploader', secretAccessKey: randomBytes(18).toString('base64url') };
    fs.writeFileSync(file, JSON.stringify(made), { mode: 0o600 });
  }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

async function main(): Promise<void> {
  fs.mkdirSync(dataDir, { recursive: true });
  fs.mkdirSync(watchDir, { recursive: true });
  const creds = credentials();
  const [temporal, s3] = await Promise.all([
    startTemporal({
      port: port('TEMPORAL_PORT', 7233),
      uiPort: port('TEMPORAL_UI_PORT', 8233),
      dbFile: path.join(dataDir, 'temporal.sqlite'),
      logFile: path.join(dataDir, 'temporal.log'),
      headless: false,
    }),
    startS3Proxy({
      port: port('S3_PORT', 9000),
      dataDir: path.join(dataDir, 's3'),
      logFile: path.join(dataDir, 's3.log'),
      ...creds,
    }),
  ]);
  await createBucket(s3, bucket);

  const metricsPort = env.METRICS_PORT ?? '9464';
  // Readable lines on a terminal; JSON lines (as the app writes them) into a pipe or a file.
  const readable = process.stdout.isTTY;
  const app = spawn(process.execPath, [...APP_NODE_FLAGS, '--import', 'tsx', path.join(root, 'src', 'main.ts')], {
    cwd: root,
    stdio: ['ignore', readable ? 'pipe' : 'inherit', 'inherit'],
    env: {
      ...APP_MALLOC_ENV,
      ...env,
      WATCH_DIR: watchDir,
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: bucket,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      TEMPORAL_ADDRESS: temporal.address,
      METRICS_PORT: metricsPort,
    },
  });
  if (readable) {
    readline
      .createInterface({ input: app.stdout! })
      .on('line', (line) => process.stdout.write(`${readableLogLine(line)}\n`));
  }
  process.stderr.write(
    [
      'stream-uploader local mode is running:',
      `  watching      ${watchDir}`,
      `  Temporal UI   ${temporal.uiUrl}`,
      `  S3 endpoint   ${s3.endpoint}  bucket ${bucket}  (access key ${creds.accessKeyId}, secret key in ${path.join(dataDir, 's3-credentials.json')})`,
      `  metrics       http://127.0.0.1:${metricsPort}/metrics`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (app.exitCode === null) app.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const code = await new Promise<number | null>((resolve) => app.once('exit', (exitCode) => resolve(exitCode)));
  await Promise.all([temporal.stop(), s3.stop()]);
  process.stderr.write('stream-uploader local mode stopped\n');
  process.exit(stopping ? 0 : (code ?? 1));
}

main().catch((err) => {
  process.stderr.write(`local mode failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
