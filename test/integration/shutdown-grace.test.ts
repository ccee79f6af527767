import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { streamRef } from '../../src/stream/identity';
import { chunkKey } from '../../src/stream/object-keys';
import { downloadStreamSha256 } from '../support/bucket';
import { waitForManifest } from '../support/kept-bytes';
import { sha256File } from '../support/media';
import { versionHistory } from '../support/object-versions';
import { waitUntil } from '../support/wait';
import { CHUNK_SIZE, startRig, type Rig } from '../reliability/rig';

const GRACE_MS = 30_000;
/** A chunk takes 4 s to go up through the proxy: long enough to stop the app in the middle. */
const SLOW_LINK_BYTES_PER_SECOND = CHUNK_SIZE / 4;

/**
 * SHUTDOWN_GRACE_TIME with the real app, Temporal and MinIO (versioned, so every stored upload is
 * counted): an upload in flight when the app is told to stop is let finish, and the run after
 * the restart knows it is there.
 */
describe('SHUTDOWN_GRACE_TIME', () => {
  let rig: Rig;

  before(async () => {
    rig = await startRig({
      name: 'shutdown-grace',
      idleTimeoutMs: 2000,
      env: { SHUTDOWN_GRACE_TIME: `${GRACE_MS}ms` },
    });
    rig.startApp();
    await rig.app.waitForLog((line) => line.msg === 'stream-uploader started');
  });
  after(async () => rig?.stop(!!process.env.KEEP));

  test('an upload in flight at SIGTERM finishes within the grace time: the bucket holds it, and the next run does not send it again', async () => {
    rig.proxy.throttleUp(SLOW_LINK_BYTES_PER_SECOND);
    const sentBefore = rig.proxy.stats().bytesUp;
    const file = path.join(rig.watchDir, 'stopped-mid-chunk.mp4');
    fs.writeFileSync(file, randomBytes(CHUNK_SIZE + 1000));
    const stats = fs.statSync(file);
    const stream = streamRef('stopped-mid-chunk.mp4', { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, rig.s3Prefix);
    // A quarter of the chunk has gone out: its PUT is in flight, three quarters still to send.
    await waitUntil(() => rig.proxy.stats().bytesUp - sentBefore > CHUNK_SIZE / 4, 60_000);

    const signalled = Date.now();
    assert.equal(await rig.app.stop('SIGTERM'), 0, 'the app exits cleanly');
    const exitMs = Date.now() - signalled;
    assert.ok(exitMs < GRACE_MS, `the app exited ${exitMs} ms after SIGTERM, past the grace time`);
    const versions = async () =>
      (await versionHistory(rig.stack.s3, rig.stack.bucket, chunkKey(stream.prefix, 0))).get(
        chunkKey(stream.prefix, 0),
      );
    assert.equal((await versions())?.length, 1, 'the chunk in flight is in the bucket once the app has exited');

    rig.proxy.throttleUp(null);
    rig.startApp();
    const manifest = await waitForManifest(
      rig.stack.s3,
      rig.stack.bucket,
      stream.prefix,
      (m) => m.status === 'complete',
    );
    assert.equal(manifest.chunkCount, 2);
    assert.equal((await versions())?.length, 1, 'the next run did not send the chunk again');
    assert.equal(await downloadStreamSha256(rig.stack.s3, rig.stack.bucket, manifest), await sha256File(file));
  });
});
