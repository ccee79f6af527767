import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { streamRef } from '../../src/stream/identity';
import type { ManifestWithChunks } from '../../src/stream/manifest';
import { downloadStreamSha256 } from '../support/bucket';
import { checkListedChunks, KeptBytes, readStreamManifest } from '../support/kept-bytes';
import { makeMp4, sha256File, writeTaggedCopy } from '../support/media';
import { runCli } from '../support/operator-cli';
import { waitUntil } from '../support/wait';
import { startRig, type Rig } from '../reliability/rig';

/**
 * Operators acting on a finished recording: a re-run (`reupload`, a `touch`) cancelled, paused then
 * cancelled, or failed because the file went away, and the app killed right after such a manifest.
 * Whatever happens, every chunk of the last complete revision stays in the bucket.
 */
describe('operator actions on a finished recording keep every byte of it', () => {
  let rig: Rig;
  let source: Buffer;

  before(async () => {
    rig = await startRig({ name: 'operators', idleTimeoutMs: 2000 });
    // About 60 chunks of 256 KiB: a re-run takes long enough to be caught midway.
    const made = path.join(rig.dir, 'source.mp4');
    await makeMp4(made, { seconds: 16, kind: 'regular', bitrate: '8M' });
    source = fs.readFileSync(made);
    rig.startApp();
  });
  after(async () => rig?.stop(!!process.env.KEEP));

  interface Recording {
    relPath: string;
    file: string;
    prefix: string;
    workflowId: string;
    kept: KeptBytes;
    complete: ManifestWithChunks;
    /** The file's SHA-256 when revision 1 completed. */
    sha256: string;
  }

  /** A recording the app uploaded in full: its complete revision 1. */
  async function finishedRecording(name: string): Promise<Recording> {
    const relPath = `${name}.mp4`;
    const file = path.join(rig.watchDir, relPath);
    writeTaggedCopy(source, file, name);
    const stats = fs.statSync(file);
    const stream = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, rig.s3Prefix);
    const kept = new KeptBytes();
    const complete = await manifestWhere(stream.prefix, (manifest) => manifest.status === 'complete');
    const sha256 = await sha256File(file);
    assert.equal(await downloadStreamSha256(rig.stack.s3, rig.stack.bucket, complete), sha256);
    kept.observe(complete);
    return { relPath, file, prefix: stream.prefix, workflowId: stream.workflowId, kept, complete, sha256 };
  }

  async function manifestWhere(prefix: string, done: (manifest: ManifestWithChunks) => boolean) {
    let found: ManifestWithChunks | null = null;
    await waitUntil(
      async () => {
        found = await readStreamManifest(rig.stack.s3, rig.stack.bucket, prefix);
        return !!found && done(found);
      },
      90_000,
      () => `last manifest: ${JSON.stringify(found && { status: found.status, revision: found.revision })}`,
    );
    return found!;
  }

  const cli = async (...args: string[]) => {
    const result = await runCli(rig.env, args);
    assert.equal(result.code, 0, result.out);
  };

  /** Waits for a run of the stream after `runId` to be going. */
  async function newRunOf(recording: Recording, runId?: string) {
    const handle = rig.stack.client.workflow.getHandle(recording.workflowId);
    await waitUntil(async () => {
      const description = await handle.describe();
      return description.runId !== runId && description.status.name === 'RUNNING';
    });
  }

  const runIdOf = async (recording: Recording) =>
    (await rig.stack.client.workflow.getHandle(recording.workflowId).describe()).runId;

  /**
   * Starts a re-upload slowed down (each request crawls to S3), waits for it to store or find its
   * first chunk, then cuts S3 off (no byte moves): the re-run is caught midway, whatever the
   * machine's speed. `passS3` lets the bytes flow again at full speed.
   */
  async function reuploadStalledMidway(recording: Recording) {
    const since = Date.now();
    rig.proxy.throttleUp(4000);
    await cli('reupload', recording.file);
    await rig.app.waitForLog(
      (line) =>
        ['chunk uploaded', 'chunk already in the bucket'].includes(String(line.msg)) &&
        Date.parse(String(line.time)) >= since,
    );
    rig.proxy.setMode('stall');
  }

  function passS3() {
    rig.proxy.throttleUp(null);
    rig.proxy.setMode('pass');
  }

  async function assertKept(recording: Recording, last: ManifestWithChunks) {
    recording.kept.observe(last);
    assert.deepEqual(await checkListedChunks(rig.stack.s3, rig.stack.bucket, last), []);
    assert.deepEqual(await recording.kept.check(rig.stack.s3, rig.stack.bucket), []);
    // The recording as revision 1 stored it can still be read whole.
    assert.equal(await downloadStreamSha256(rig.stack.s3, rig.stack.bucket, recording.complete), recording.sha256);
  }

  test('a reupload cancelled midway', async () => {
    const recording = await finishedRecording('reupload-cancelled');
    await reuploadStalledMidway(recording);
    await cli('cancel', recording.workflowId);
    passS3();
    const cancelled = await manifestWhere(recording.prefix, (m) => m.status === 'cancelled' && m.revision === 2);
    assert.equal(cancelled.chunkCount, recording.complete.chunkCount, 'the cancelled re-run lists every chunk');
    await assertKept(recording, cancelled);
  });

  test('a re-run after touch, cancelled', async () => {
    const recording = await finishedRecording('touch-cancelled');
    const runId = await runIdOf(recording);
    const now = new Date();
    fs.utimesSync(recording.file, now, now);
    await newRunOf(recording, runId);
    await cli('cancel', recording.workflowId);
    const cancelled = await manifestWhere(recording.prefix, (m) => m.status === 'cancelled' && m.revision === 2);
    await assertKept(recording, cancelled);
  });

  test('a re-run whose file is deleted midway', async () => {
    const recording = await finishedRecording('deleted-midway');
    await reuploadStalledMidway(recording);
    fs.rmSync(recording.file);
    passS3();
    const failed = await manifestWhere(recording.prefix, (m) => m.status === 'failed' && m.revision === 2);
    await assertKept(recording, failed);
  });

  test('a re-run paused, then cancelled', async () => {
    const recording = await finishedRecording('paused-cancelled');
    await reuploadStalledMidway(recording);
    await cli('pause', recording.workflowId);
    await waitUntil(async () => (await runCli(rig.env, ['status', recording.workflowId])).out.includes('"paused"'));
    passS3();
    await cli('cancel', recording.workflowId);
    const cancelled = await manifestWhere(recording.prefix, (m) => m.status === 'cancelled' && m.revision === 2);
    await assertKept(recording, cancelled);
  });

  test('the app killed (SIGKILL) right after a cancelled re-run wrote its manifest, then restarted', async () => {
    const recording = await finishedRecording('killed-after-cancel');
    await reuploadStalledMidway(recording);
    await cli('cancel', recording.workflowId);
    passS3();
    const cancelled = await manifestWhere(recording.prefix, (m) => m.status === 'cancelled' && m.revision === 2);
    await rig.app.stop('SIGKILL');
    rig.startApp();
    await rig.app.waitForLog((line) => line.msg === 'watching for recordings', 60_000);
    await assertKept(recording, cancelled);
  });
});
