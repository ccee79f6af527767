import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { streamRef } from '../../src/stream/identity';
import type { ManifestWithChunks } from '../../src/stream/manifest';
import { downloadStreamSha256 } from '../support/bucket';
import { checkListedChunks, KeptBytes, readStreamManifest, waitForManifest } from '../support/kept-bytes';
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

  const manifestWhere = (prefix: string, done: (manifest: ManifestWithChunks) => boolean) =>
    waitForManifest(rig.stack.s3, rig.stack.bucket, prefix, done);

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
   * Starts a re-upload with S3 cut off (no byte moves): whatever the machine's speed, the re-run is
   * going and has reached no chunk when the operator acts. The old code then deleted every chunk.
   * `passS3` lets the bytes flow again.
   */
  async function reuploadWhileS3Stalls(recording: Recording) {
    const runId = await runIdOf(recording);
    rig.proxy.setMode('stall');
    try {
      await cli('reupload', recording.file);
      await newRunOf(recording, runId);
    } catch (err) {
      // The next tests need S3.
      passS3();
      throw err;
    }
  }

  const passS3 = () => rig.proxy.setMode('pass');

  async function assertKept(recording: Recording, last: ManifestWithChunks) {
    recording.kept.observe(last);
    assert.deepEqual(await checkListedChunks(rig.stack.s3, rig.stack.bucket, last), []);
    assert.deepEqual(await recording.kept.check(rig.stack.s3, rig.stack.bucket, recording.prefix), []);
    // The recording as revision 1 stored it can still be read whole.
    assert.equal(await downloadStreamSha256(rig.stack.s3, rig.stack.bucket, recording.complete), recording.sha256);
  }

  /**
   * Touches the file, which starts a re-run; cuts S3 off as soon as that run has opened the stream
   * (learnt its revision), so that it cannot complete; cancels it; lets S3 back.
   */
  async function touchThenCancelTheRerun(recording: Recording) {
    const since = Date.now();
    const now = new Date();
    fs.utimesSync(recording.file, now, now);
    await rig.app.waitForLog(
      (line) => line.msg === 'resuming stream from its stored manifest' && Date.parse(String(line.time)) >= since,
    );
    rig.proxy.setMode('stall');
    await cancelTheFollow(recording);
    passS3();
  }

  /**
   * Cancels the stream and waits until its follow took the cancel (through its heartbeat), so that
   * S3 coming back cannot let it complete the stream first.
   */
  async function cancelTheFollow(recording: Recording) {
    await cli('cancel', recording.workflowId);
    const handle = rig.stack.client.workflow.getHandle(recording.workflowId);
    await waitUntil(
      async () =>
        !((await handle.describe()).raw.pendingActivities ?? []).some(
          (activity) => activity.activityType?.name === 'followFile',
        ),
      60_000,
    );
  }

  /** The stream's manifest once its run has ended. */
  async function afterTheRun(recording: Recording) {
    const handle = rig.stack.client.workflow.getHandle(recording.workflowId);
    await waitUntil(async () => (await handle.describe()).status.name !== 'RUNNING', 90_000);
    return (await readStreamManifest(rig.stack.s3, rig.stack.bucket, recording.prefix))!;
  }

  test('a reupload cancelled before it opened the stream leaves the complete manifest as it was', async () => {
    const recording = await finishedRecording('reupload-cancelled');
    // A second complete revision first: a run cancelled before it knew its revision wrote a
    // cancelled manifest of revision 1 over it, and the next run's revision 2 deleted its chunks.
    const now = new Date();
    fs.utimesSync(recording.file, now, now);
    const second = await manifestWhere(recording.prefix, (m) => m.status === 'complete' && m.revision === 2);
    recording.kept.observe(second);
    // The follow writes the complete manifest a moment before its run ends: reupload waits for that.
    await afterTheRun(recording);
    await reuploadWhileS3Stalls(recording);
    await cli('cancel', recording.workflowId);
    passS3();
    const last = await afterTheRun(recording);
    assert.deepEqual({ status: last.status, revision: last.revision }, { status: 'complete', revision: 2 });
    await assertKept(recording, last);
  });

  test('a re-run after touch, cancelled before it completes, keeps listing every chunk', async () => {
    const recording = await finishedRecording('touch-cancelled');
    await touchThenCancelTheRerun(recording);
    const last = await afterTheRun(recording);
    assert.deepEqual({ status: last.status, revision: last.revision }, { status: 'cancelled', revision: 2 });
    assert.equal(last.chunkCount, recording.complete.chunkCount, 'the cancelled re-run lists every chunk');
    await assertKept(recording, last);
  });

  test('a re-run whose file is deleted while it runs', async () => {
    const recording = await finishedRecording('deleted-midway');
    await reuploadWhileS3Stalls(recording);
    fs.rmSync(recording.file);
    passS3();
    const failed = await manifestWhere(recording.prefix, (m) => m.status === 'failed' && m.revision === 2);
    await assertKept(recording, failed);
  });

  test('a re-run paused, then cancelled', async () => {
    const recording = await finishedRecording('paused-cancelled');
    await reuploadWhileS3Stalls(recording);
    await cli('pause', recording.workflowId);
    passS3();
    await waitUntil(async () => (await runCli(rig.env, ['status', recording.workflowId])).out.includes('"paused"'));
    await cli('cancel', recording.workflowId);
    const last = await afterTheRun(recording);
    assert.deepEqual({ status: last.status, revision: last.revision }, { status: 'cancelled', revision: 2 });
    assert.equal(last.chunkCount, recording.complete.chunkCount, 'the cancelled re-run lists every chunk');
    await assertKept(recording, last);
  });

  test('the app killed (SIGKILL) right after a cancelled re-run wrote its manifest, then restarted', async () => {
    const recording = await finishedRecording('killed-after-cancel');
    await touchThenCancelTheRerun(recording);
    const cancelled = await manifestWhere(recording.prefix, (m) => m.status === 'cancelled' && m.revision === 2);
    await rig.app.stop('SIGKILL');
    rig.startApp();
    await rig.app.waitForLog((line) => line.msg === 'stream-uploader started', 60_000);
    await assertKept(recording, cancelled);
  });
});
