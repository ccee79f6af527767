import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../scripts/local-servers';
import { s3ClientFor } from '../../scripts/s3-servers';
import { downloadStreamSha256, listKeys, waitForCompleteManifest } from '../support/bucket';
import {
  buildAppImage,
  composeProject,
  docker,
  localImages,
  requireDockerCompose,
  type ComposeProject,
} from '../support/compose';
import { recordLive, sha256File, type LiveRecording } from '../support/media';
import { tempDir } from '../support/stack';
import { waitUntil } from '../support/wait';

/**
 * `docker compose up`, as users start it: the project's docker-compose.yml, unchanged, on a real
 * Docker engine, with the app image built from the project's Dockerfile. Where no registry is
 * reachable, scripts/local-images.sh builds stand-ins for the images the engine lacks (nothing
 * when it has them). The stack comes up once; the checks below share it, in order.
 *
 * Beside the project's files, an override publishes MinIO's S3 API on a free loopback port, so
 * that the test reads the bucket from outside the app, as any consumer would.
 */

const PROJECT = 'stream-uploader-compose-test';
const DATA_PATH = [
  'postgresql',
  'temporal-admin-tools',
  'temporal',
  'temporal-create-namespace',
  'minio',
  'minio-create-bucket',
  'app',
];
const BUCKET = 'recordings';
// compose's development defaults (docker-compose.yml): the test's .env is empty, as a fresh clone's.
const MINIO_ROOT = { user: 'stream-uploader-dev', password: 'dev-only-minio-password' };

let project: ComposeProject;
let split: ComposeProject;
let watchDir: string;
let s3: S3Client;
const recordings: LiveRecording[] = [];
const timings: Record<string, string> = {};

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

before(
  async () => {
    requireDockerCompose();
    // The Dockerfile's base first (the app's build needs it), then the other stand-ins beside the app's build.
    const started = Date.now();
    const timed = async <T>(name: string, work: Promise<T>): Promise<T> => {
      const result = await work;
      timings[name] = seconds(Date.now() - started);
      return result;
    };
    const base = await timed('node base image', localImages(['app']));
    const [others] = await Promise.all([
      timed('stand-in images', localImages(DATA_PATH)),
      timed('app image build', buildAppImage('stream-uploader:local')),
    ]);
    timings['images built'] = String((base + others).match(/: built /g)?.length ?? 0);

    const dir = tempDir('compose-up');
    watchDir = path.join(dir, 'input-videos');
    fs.mkdirSync(watchDir, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const envFile = path.join(dir, 'empty.env');
    fs.writeFileSync(envFile, '');
    const minioPort = await freePort();
    const override = path.join(dir, 'test-override.yml');
    fs.writeFileSync(override, `services:\n  minio:\n    ports:\n      - "127.0.0.1:${minioPort}:9000"\n`);
    const env = {
      WATCH_DIR: watchDir,
      // Small chunks and short idle times: a 12 s recording makes a dozen chunks and ends soon after.
      CHUNK_SIZE: '512KiB',
      STREAM_IDLE_TIMEOUT: '4s',
      WATCH_RESCAN_INTERVAL: '2s',
      METRICS_PORT: String(await freePort()),
    };
    project = composeProject(PROJECT, ['docker-compose.yml', override], envFile, env);
    split = composeProject(PROJECT, ['docker-compose.yml', 'docker-compose.split.yml', override], envFile, env);
    // What an interrupted earlier run left behind.
    await split.compose(['down', '--volumes', '--remove-orphans']);
    s3 = s3ClientFor({
      endpoint: `http://127.0.0.1:${minioPort}`,
      region: 'us-east-1',
      accessKeyId: MINIO_ROOT.user,
      secretAccessKey: MINIO_ROOT.password,
    });
  },
  { timeout: 40 * 60_000 },
);

after(
  async () => {
    for (const recording of recordings) recording.kill();
    if (process.env.COMPOSE_TEST_KEEP !== '1')
      await split?.compose(['down', '--volumes', '--remove-orphans']).catch((err: Error) => console.error(err.message));
    console.log(`compose-up timings: ${JSON.stringify(timings)}`);
  },
  { timeout: 5 * 60_000 },
);

function record(name: string, secondsLong = 12): { file: string; recording: LiveRecording } {
  const file = path.join(watchDir, name);
  const recording = recordLive(file, { seconds: secondsLong, kind: 'fragmented', bitrate: '3M' });
  recordings.push(recording);
  return { file, recording };
}

async function chunkKeys(name: string): Promise<string[]> {
  return (await listKeys(s3, BUCKET, `${name}/`).catch(() => [])).filter((key) => key.includes('/chunks/'));
}

/** The stream prefix of the recording `name` (its only stream), from the bucket's listing. */
async function streamPrefix(name: string): Promise<string> {
  let prefix = '';
  await waitUntil(async () => {
    const key = (await listKeys(s3, BUCKET, `${name}/`).catch(() => [])).find((k) => k.endsWith('/metadata.json'));
    prefix = key ? key.slice(0, -'/metadata.json'.length) : '';
    return prefix !== '';
  }, 240_000);
  return prefix;
}

async function assertUploadedByteExact(name: string, file: string, recording: LiveRecording): Promise<void> {
  await recording.done;
  const started = Date.now();
  let manifest;
  try {
    const prefix = await streamPrefix(name);
    manifest = await waitForCompleteManifest(s3, BUCKET, prefix, 240_000, () => `stream ${prefix}`);
  } catch (err) {
    const apps = (await project.logs('app')) + (await split.logs('workflows'));
    throw new Error(`${(err as Error).message}\napp logs:\n${apps}`, { cause: err });
  }
  timings[`${name}: recording end to metadata complete`] = seconds(Date.now() - started);
  assert.equal(manifest.status, 'complete');
  assert.equal(manifest.totalSize, fs.statSync(file).size);
  assert.ok(manifest.completedAt && manifest.durationSeconds !== null, `${name}: metadata.json complete`);
  assert.ok(manifest.chunkCount > 1, `${name} was uploaded in chunks (${manifest.chunkCount})`);
  assert.equal(await downloadStreamSha256(s3, BUCKET, manifest), await sha256File(file), `${name} byte for byte`);
}

async function lastModified(prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? [])
      out.set(object.Key!, `${object.LastModified?.toISOString()} ${object.ETag}`);
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

test('docker compose up -d app starts the stack and uploads a live recording byte for byte', async () => {
  const { file, recording } = record('cam1.mp4');
  const started = Date.now();
  await project.compose(['up', '-d', '--pull', 'never', 'app'], 600_000);
  timings['up -d app returned'] = seconds(Date.now() - started);
  await waitUntil(
    async () => (await chunkKeys('cam1.mp4')).length > 0,
    240_000,
    () => 'the first chunk of cam1.mp4',
  );
  timings['up to first chunk'] = seconds(Date.now() - started);
  await assertUploadedByteExact('cam1.mp4', file, recording);

  // Every service the data path needs ran; the one-shot jobs ended with 0.
  for (const job of ['temporal-admin-tools', 'temporal-create-namespace', 'minio-create-bucket'])
    assert.equal((await project.inspect(job)).State.ExitCode, 0, `${job} exited 0`);
  for (const service of ['postgresql', 'temporal', 'minio', 'app'])
    assert.equal((await project.inspect(service)).State.Status, 'running', `${service} runs`);
});

test('the app runs as uid 1000, goes healthy, and every published port is on 127.0.0.1 only', async () => {
  assert.equal((await project.compose(['exec', '-T', 'app', 'id', '-u'])).trim(), '1000');
  assert.equal((await project.inspect('app')).Config.User, '1000:1000');
  await waitUntil(async () => (await project.inspect('app')).State.Health?.Status === 'healthy', 180_000);
  // The app's resident memory at rest (its recording finished), beside the native figure in the README.
  const rss = await project.compose([
    'exec',
    '-T',
    'app',
    'sh',
    '-c',
    'for p in /proc/[0-9]*; do case "$(tr "\\0" " " <"$p/cmdline")" in *dist/main.js*) grep VmRSS "$p/status";; esac; done',
  ]);
  // The largest is node's (the others are the shell and tr of this command).
  const kib = Math.max(...[...rss.matchAll(/VmRSS:\s+(\d+) kB/g)].map((match) => Number(match[1])));
  timings['app RSS at rest'] = `${(kib / 1024).toFixed(0)} MiB`;
  const ids = (await project.compose(['ps', '-q'])).trim().split('\n').filter(Boolean);
  const bindings: string[] = [];
  for (const id of ids) {
    const [state] = JSON.parse(await docker(['inspect', id])) as Awaited<ReturnType<ComposeProject['inspect']>>[];
    for (const [port, hosts] of Object.entries(state.NetworkSettings.Ports))
      for (const host of hosts ?? []) bindings.push(`${host.HostIp}:${host.HostPort}->${port}`);
  }
  assert.ok(bindings.length >= 2, `published: ${bindings.join(', ')}`);
  for (const binding of bindings) assert.ok(binding.startsWith('127.0.0.1:'), `${binding} is on 127.0.0.1 only`);
});

test('the README operator commands run inside the stack', async () => {
  const list = await project.compose(['exec', '-T', 'app', 'node', 'dist/cli.js', 'list', '--all']);
  assert.match(list, /cam1\.mp4/);
  const status = await project.compose(['exec', '-T', 'app', 'node', 'dist/cli.js', 'status', 'cam1.mp4']);
  assert.match(status, /complete/i);
  const workflows = await project.compose([
    'run',
    '--rm',
    '--entrypoint',
    'temporal',
    'temporal-create-namespace',
    'workflow',
    'list',
    '--query',
    "WorkflowType='StreamUploadWorkflow'",
  ]);
  assert.match(workflows, /stream:cam1\.mp4@/);
});

test('docker kill of the app mid-recording, then up again: the stream ends byte for byte', async () => {
  const { file, recording } = record('cam2.mp4');
  await waitUntil(async () => (await chunkKeys('cam2.mp4')).length >= 2, 120_000);
  const killed = await project.containerId('app');
  await docker(['kill', killed]);
  await project.compose(['up', '-d', '--pull', 'never', 'app']);
  await assertUploadedByteExact('cam2.mp4', file, recording);
});

test('a restart of the Temporal server mid-recording: the stream ends byte for byte', async () => {
  const { file, recording } = record('cam3.mp4');
  await waitUntil(async () => (await chunkKeys('cam3.mp4')).length >= 2, 120_000);
  await project.compose(['restart', 'temporal']);
  await assertUploadedByteExact('cam3.mp4', file, recording);
});

test('docker compose stop ends the app within its grace period, exit 0; up again carries on', async () => {
  const { file, recording } = record('cam4.mp4');
  await waitUntil(async () => (await chunkKeys('cam4.mp4')).length >= 2, 120_000);
  const started = Date.now();
  await project.compose(['stop', 'app']);
  const took = Date.now() - started;
  timings['stop app'] = seconds(took);
  const state = await project.inspect('app');
  assert.equal(state.State.ExitCode, 0, 'SIGTERM, not the SIGKILL after stop_grace_period');
  assert.ok(took < 60_000, `stopped in ${seconds(took)}, within stop_grace_period (60 s)`);
  const logs = await project.logs('app');
  assert.match(logs, /"shutting down"/);
  assert.match(logs, /"stopped"/);
  await project.compose(['up', '-d', '--pull', 'never', 'app']);
  await assertUploadedByteExact('cam4.mp4', file, recording);
});

test('down and up with the volumes kept: finished recordings stay as they were, a running one carries on', async () => {
  const finished = await lastModified('cam1.mp4/');
  const { file, recording } = record('cam5.mp4');
  await waitUntil(async () => (await chunkKeys('cam5.mp4')).length >= 2, 120_000);
  let started = Date.now();
  await project.compose(['down']);
  timings['down'] = seconds(Date.now() - started);
  started = Date.now();
  await project.compose(['up', '-d', '--pull', 'never', 'app'], 600_000);
  timings['up again after down'] = seconds(Date.now() - started);
  await assertUploadedByteExact('cam5.mp4', file, recording);
  // The watcher saw cam1..cam4 again at start; none is uploaded again.
  assert.deepEqual(await lastModified('cam1.mp4/'), finished);
  for (const name of ['cam1.mp4', 'cam2.mp4', 'cam3.mp4', 'cam4.mp4'])
    assert.equal((await listKeys(s3, BUCKET, `${name}/`)).filter((k) => k.endsWith('/metadata.json')).length, 1);
});

test('docker-compose.split.yml: an edge and a workflows service upload a live recording byte for byte', async () => {
  await project.compose(['stop', 'app']);
  await split.compose(['up', '-d', '--pull', 'never', 'app', 'workflows'], 600_000);
  const { file, recording } = record('cam6.mp4');
  await assertUploadedByteExact('cam6.mp4', file, recording);
  const edge = await split.logs('app');
  const workflows = await split.logs('workflows');
  assert.match(edge, /"role":"edge"/);
  assert.match(workflows, /"role":"workflow"/);
  assert.doesNotMatch(workflows, /chunk uploaded/);
});

test('the stand-in images are the exact names and tags the compose file gives', async () => {
  // Nothing to build now: every image is there (official or stand-in), so the script builds nothing.
  const again = await localImages([...DATA_PATH, 'workflows']);
  assert.doesNotMatch(again, /: built /);
  const size = Number((await docker(['image', 'inspect', '-f', '{{.Size}}', 'stream-uploader:local'])).trim());
  const base = Number((await docker(['image', 'inspect', '-f', '{{.Size}}', 'node:24.19.0-bookworm-slim'])).trim());
  timings['app image over its base'] = `${((size - base) / 1e6).toFixed(1)} MB`;
});
