import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ANY_PORT, freePort } from '../../scripts/local-servers';
import { s3ClientFor } from '../../scripts/s3-servers';
import { streamRef } from '../../src/stream/identity';
import { downloadStreamSha256, readManifestObject } from '../support/bucket';
import { makeMp4, sha256File } from '../support/media';
import { tempDir } from '../support/stack';
import { waitUntil } from '../support/wait';

const ROOT = path.resolve(__dirname, '..', '..');

test('`npm run dev` starts Temporal, an S3 server and the app on loopback, uploads a dropped file, and stops cleanly on Ctrl-C', async () => {
  const dir = tempDir('dev');
  const watchDir = path.join(dir, 'input-videos');
  const ports = {
    TEMPORAL_PORT: await freePort(),
    TEMPORAL_UI_PORT: await freePort(),
    S3_PORT: await freePort(),
  };
  const credentials = { accessKeyId: 'dev-test', secretAccessKey: randomBytes(12).toString('hex') };
  const dev = spawn('npm', ['run', 'dev'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...Object.fromEntries(Object.entries(ports).map(([name, value]) => [name, String(value)])),
      DEV_DATA_DIR: path.join(dir, 'data'),
      WATCH_DIR: watchDir,
      METRICS_PORT: ANY_PORT,
      TEMPORAL_METRICS_PORT: ANY_PORT,
      STREAM_IDLE_TIMEOUT: '1s',
      CHUNK_SIZE: '256KiB',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that Ctrl-C can be sent as a terminal sends it: to the whole group.
    detached: true,
  });
  let output = '';
  dev.stdout.on('data', (data: Buffer) => (output += data.toString()));
  dev.stderr.on('data', (data: Buffer) => (output += data.toString()));
  const exited = new Promise<string>((resolve) =>
    dev.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`)),
  );
  const s3 = s3ClientFor({ endpoint: `http://127.0.0.1:${ports.S3_PORT}`, region: 'us-east-1', ...credentials });
  try {
    await waitUntil(
      () => output.includes('watching for recordings'),
      120_000,
      () => output,
    );
    assert.match(output, new RegExp(`Temporal UI\\s+http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`));
    assert.match(output, new RegExp(`S3 endpoint\\s+http://127.0.0.1:${ports.S3_PORT}`));
    // What the app's uploads rely on: the server checks each body against its SHA-256.
    await assert.rejects(
      s3.send(
        new PutObjectCommand({
          Bucket: 'recordings',
          Key: 'checksum-probe',
          Body: 'these bytes',
          ChecksumSHA256: createHash('sha256').update('other bytes').digest('base64'),
        }),
      ),
      { name: 'BadDigest' },
    );

    const file = path.join(watchDir, 'dropped.mp4');
    await makeMp4(file, { seconds: 2, kind: 'regular' });
    const stats = fs.statSync(file);
    const key = `${streamRef('dropped.mp4', { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, '').prefix}/metadata.json`;
    let manifest;
    await waitUntil(
      async () => {
        manifest = await readManifestObject(s3, 'recordings', key).catch(() => undefined);
        return manifest?.status === 'complete';
      },
      60_000,
      () => output,
    );
    assert.equal(await downloadStreamSha256(s3, 'recordings', manifest!), await sha256File(file));
    // A fresh dev server has none of the stream search attributes: the app registered them itself.
    assert.match(
      output,
      /"registered":\["StreamPath","StreamStatus","StreamBytesUploaded"\],"msg":"registered search attributes"/,
    );

    process.kill(-dev.pid!, 'SIGINT');
    // npm itself ends on the SIGINT, as it does in a terminal; what matters is what it ran.
    assert.ok(['exit 0', 'SIGINT'].includes(await exited), output);
    assert.match(output, /"msg":"stopped"/, 'the app shut down gracefully');
    assert.match(output, /local mode stopped/);
    for (const port of Object.values(ports))
      assert.equal(await isListening(port), false, `port ${port} is closed after stop`);
    assert.ok(
      fs.existsSync(path.join(dir, 'data', 'temporal.sqlite')),
      'Temporal state is kept on disk for the next start',
    );
  } finally {
    try {
      process.kill(-dev.pid!, 'SIGKILL');
    } catch {
      // The group has already exited.
    }
    s3.destroy();
  }
});

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
