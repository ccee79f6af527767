import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { streamRef } from '../../src/stream/identity';
import type { ManifestWithChunks } from '../../src/stream/manifest';
import { downloadStreamSha256 } from '../support/bucket';
import type { LogLine } from '../support/app-process';
import { waitForManifest } from '../support/kept-bytes';
import { makeMp4, recordLive, writeTaggedCopy } from '../support/media';
import { runCli } from '../support/operator-cli';
import { waitUntil } from '../support/wait';
import { startRig, type Rig } from '../reliability/rig';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * AFTER_UPLOAD=delete with the real app, Temporal and MinIO: a recording's file goes once its
 * stream is complete and its chunks are checked in the bucket, and at no other time.
 */
describe('AFTER_UPLOAD=delete', () => {
  let rig: Rig;
  let source: Buffer;

  before(async () => {
    rig = await startRig({ name: 'after-upload', idleTimeoutMs: 2000, env: { AFTER_UPLOAD: 'delete' } });
    const made = path.join(rig.dir, 'source.mp4');
    await makeMp4(made, { seconds: 8, kind: 'regular', bitrate: '4M' });
    source = fs.readFileSync(made);
    rig.startApp();
    await rig.app.waitForLog((line) => line.msg === 'stream-uploader started');
  });
  after(async () => rig?.stop(!!process.env.KEEP));

  const streamOf = (relPath: string) => {
    const stats = fs.statSync(path.join(rig.watchDir, relPath));
    return streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, rig.s3Prefix);
  };

  const manifestWhere = (prefix: string, done: (manifest: ManifestWithChunks) => boolean) =>
    waitForManifest(rig.stack.s3, rig.stack.bucket, prefix, done);

  /** The app's 'uploaded file deleted' lines of a stream, once the first has reached the log. */
  async function deletionsOf(streamId: string): Promise<number> {
    const deleted = (line: LogLine) => line.msg === 'uploaded file deleted' && line.streamId === streamId;
    await rig.app.waitForLog(deleted, 30_000);
    return rig.logs().filter(deleted).length;
  }

  test('a live ffmpeg recording is deleted once complete, and the bucket holds every byte of it', async () => {
    const file = path.join(rig.watchDir, 'live.mp4');
    const recording = recordLive(file, { seconds: 5, kind: 'regular', bitrate: '2M' });
    await waitUntil(() => fs.existsSync(file));
    const stream = streamOf('live.mp4');
    await recording.done;
    // ffmpeg has patched its header and closed the file: these are the bytes that must be in S3.
    const recorded = fs.readFileSync(file);
    const manifest = await manifestWhere(stream.prefix, (m) => m.status === 'complete' && !!m.localFile);
    assert.equal(fs.existsSync(file), false, 'the file is deleted');
    assert.equal(manifest.totalSize, recorded.length);
    assert.equal(await downloadStreamSha256(rig.stack.s3, rig.stack.bucket, manifest), sha256(recorded));
    assert.ok(Date.parse(manifest.localFile!.deletedAt) >= Date.parse(manifest.completedAt!));
    assert.equal(await deletionsOf(stream.streamId), 1);
    const metrics = await rig.metricsText();
    assert.match(metrics, /^stream_uploader_local_files_deleted_total [1-9]/m);
    assert.match(metrics, /^stream_uploader_local_bytes_freed_total [1-9]/m);
  });

  test('a file still written to is never deleted; it goes once it is idle', async () => {
    const file = path.join(rig.watchDir, 'growing.mp4');
    const handle = fs.openSync(file, 'a');
    const stream = streamOf('growing.mp4');
    // A recorder writing every half second for 8 s, four times the idle timeout: the file is
    // checked at every write.
    const slices = 16;
    const size = Math.ceil(source.length / slices);
    try {
      for (let at = 0; at < source.length; at += size) {
        assert.ok(fs.existsSync(file), `deleted while written to, at byte ${at}`);
        fs.writeSync(handle, source.subarray(at, at + size));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    } finally {
      fs.closeSync(handle);
    }
    const manifest = await manifestWhere(stream.prefix, (m) => m.status === 'complete' && !!m.localFile);
    assert.equal(fs.existsSync(file), false);
    assert.equal(await downloadStreamSha256(rig.stack.s3, rig.stack.bucket, manifest), sha256(source));
  });

  test('a cancelled stream keeps its file', async () => {
    const relPath = 'cancelled.mp4';
    const file = path.join(rig.watchDir, relPath);
    // S3 stalls: the stream cannot complete before the operator cancels it.
    rig.proxy.setMode('stall');
    try {
      fs.writeFileSync(file, source);
      const stream = streamOf(relPath);
      const handle = rig.stack.client.workflow.getHandle(stream.workflowId);
      await waitUntil(async () => (await handle.describe().catch(() => null))?.status.name === 'RUNNING');
      const cancelled = await runCli(rig.env, ['cancel', stream.workflowId]);
      assert.equal(cancelled.code, 0, cancelled.out);
    } finally {
      rig.proxy.setMode('pass');
    }
    const manifest = await manifestWhere(streamOf(relPath).prefix, (m) => m.status === 'cancelled');
    assert.equal(manifest.localFile, undefined);
    assert.equal(fs.readFileSync(file).equals(source), true, 'the file is kept as it was');
  });

  test('the app killed (SIGKILL) between the complete manifest and the deletion deletes the file once after its restart', async () => {
    const relPath = 'killed.mp4';
    const file = path.join(rig.watchDir, relPath);
    const since = Date.now();
    // The recording with 100 MB of padding (an MP4 `free` box): 430 chunks for the deletion to
    // check in S3 first. S3 stalls from the moment the complete manifest is written, so the kill
    // lands before the file goes.
    writeTaggedCopy(source, file, 'x'.repeat(100 * 1024 * 1024));
    const written = fs.readFileSync(file);
    const stream = streamOf(relPath);
    await rig.app.waitForLog(
      (line) =>
        line.msg === 'manifest written' &&
        line.status === 'complete' &&
        line.streamId === stream.streamId &&
        Date.parse(String(line.time)) >= since,
      90_000,
    );
    rig.proxy.setMode('stall');
    await rig.app.stop('SIGKILL');
    assert.ok(fs.existsSync(file), 'killed before the deletion');
    rig.startApp();
    await rig.app.waitForLog((line) => line.msg === 'stream-uploader started', 60_000);
    rig.proxy.setMode('pass');
    const manifest = await manifestWhere(stream.prefix, (m) => m.status === 'complete' && !!m.localFile);
    assert.equal(fs.existsSync(file), false);
    assert.equal(await downloadStreamSha256(rig.stack.s3, rig.stack.bucket, manifest), sha256(written));
    assert.equal(await deletionsOf(stream.streamId), 1, 'deleted once');
    const handle = rig.stack.client.workflow.getHandle(stream.workflowId);
    await waitUntil(async () => (await handle.describe()).status.name === 'COMPLETED', 60_000);
  });
});
