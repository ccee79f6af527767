import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createBucket, s3ClientFor, startMinio, type S3Server } from '../../scripts/s3-servers';
import { createActivities, type StreamActivities } from '../../src/activities';
import { ChunkBuffers } from '../../src/activities/store/chunk-buffers';
import { ChunkFingerprints } from '../../src/activities/file/chunk-fingerprints';
import { MAX_BUFFERED_CHUNK } from '../../src/activities/store/upload-chunk';
import { Slots } from '../../src/activities/slots';
import { FollowedStreams } from '../../src/followed-streams';
import { FailureType } from '../../src/stream/failures';
import { streamRef } from '../../src/stream/identity';
import type { StreamRef } from '../../src/stream/types';
import { listKeys } from '../support/bucket';
import { tempDir, unservedMetrics } from '../support/stack';

const BUCKET = 'recordings';
const PREFIX = 'watched';
const SECRET_SIZE = 64 * 1024;

/**
 * A workflow's input is anyone's who may start a workflow: the activities must reach a file
 * beneath WATCH_DIR by the path the watcher would give it, or refuse for good, never upload,
 * assemble or compare with the chunks a file outside it.
 */
describe('activities read only files beneath WATCH_DIR, named as the watcher names them', () => {
  const root = tempDir('watched-paths');
  const watchDir = path.join(root, 'watch');
  const outside = path.join(root, 'outside');
  const secret = path.join(outside, 'secret.mp4');
  let minio: S3Server;
  let s3: S3Client;
  let activities: StreamActivities;

  before(async () => {
    fs.mkdirSync(path.join(watchDir, 'cam'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(secret, randomBytes(SECRET_SIZE));
    fs.writeFileSync(path.join(watchDir, 'cam', 'ok.mp4'), randomBytes(SECRET_SIZE));
    fs.writeFileSync(path.join(watchDir, 'cam', 'big.mp4'), randomBytes(MAX_BUFFERED_CHUNK + 1024));
    fs.symlinkSync(outside, path.join(watchDir, 'link'));
    fs.symlinkSync(secret, path.join(watchDir, 'file-link.mp4'));
    // A link to a directory inside WATCH_DIR is refused as well: no link is followed.
    fs.symlinkSync(watchDir, path.join(watchDir, 'cam', 'up'));
    minio = await startMinio();
    await createBucket(minio, BUCKET);
    s3 = s3ClientFor(minio);
    activities = createActivities({
      s3,
      bucket: BUCKET,
      watchDir,
      metrics: unservedMetrics(),
      uploadSlots: new Slots(2),
      checkSlots: new Slots(1),
      buffers: new ChunkBuffers(),
      fingerprints: await ChunkFingerprints.create(),
      followed: new FollowedStreams(),
      s3Prefix: PREFIX,
    });
  });
  after(async () => {
    s3?.destroy();
    await minio?.stop();
  });

  /** The stream a forged input names: `relPath`, with the identity of the file it should reach. */
  function forged(relPath: string, target: string): StreamRef {
    const stats = fs.statSync(target);
    return streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, PREFIX);
  }

  // The refusals are what is tested: the activities' warnings about them are left out.
  const logger = new DefaultLogger('ERROR');
  const run = <I, O>(activity: (input: I) => Promise<O>, input: I) =>
    new MockActivityEnvironment(undefined, { logger }).run<[I], O, typeof activity>(activity, input);

  /** The objects under a stream's prefix (which, made up by hand, may be no name S3 accepts). */
  const objectsOf = async (stream: StreamRef) =>
    (await listKeys(s3, BUCKET, `${PREFIX}/`)).filter((key) => key.startsWith(`${stream.prefix}/`));

  /** Every activity that reads the stream's file, with `stream`, each as its workflow would call it. */
  function readingActivities(stream: StreamRef, size: number) {
    const sha256 = createHash('sha256').update(fs.readFileSync(secret)).digest('hex');
    return {
      uploadChunks: () =>
        run(activities.uploadChunks, {
          stream,
          ranges: [{ index: 0, offset: 0, size }],
          concurrency: 1,
          bytesCompleteAtMs: Date.now(),
        }),
      // Compared with the secret's digest: "unchanged" would tell its bytes.
      verifyChunks: () =>
        run(activities.verifyChunks, {
          stream,
          chunkCount: 1,
          pendingChunks: [
            { index: 0, offset: 0, size, key: 'k', sha256, etag: '', uploadedAt: new Date().toISOString() },
          ],
        }),
      inspectFile: () => run(activities.inspectFile, { stream }),
      assembleRecording: () => run(activities.assembleRecording, { stream, chunkSize: size, fileSize: size }),
    };
  }

  const refused = (type: FailureType) => (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, not ${String(err)}`);
    assert.equal(err.type, type, err.message);
    assert.equal(err.nonRetryable, true);
    return true;
  };

  const okFile = path.join(watchDir, 'cam', 'ok.mp4');
  const refusedPaths: Array<[string, string]> = [
    ['link/secret.mp4', secret],
    ['../outside/secret.mp4', secret],
    [secret, secret],
    ['cam/up/cam/ok.mp4', okFile],
    ['cam//ok.mp4', okFile],
    ['./cam/ok.mp4', okFile],
    ['cam/./ok.mp4', okFile],
    ['cam/../cam/ok.mp4', okFile],
    ['cam/ok.mp4/', okFile],
  ];
  for (const [relPath, target] of refusedPaths) {
    const shown = path.isAbsolute(relPath) ? 'an absolute path' : JSON.stringify(relPath);
    test(`${shown} is refused for good, with a message naming it, and nothing of it uploaded`, async () => {
      const stream = forged(relPath, target);
      const invalid = (err: unknown) =>
        refused(FailureType.InvalidPath)(err) && (err as Error).message.includes(relPath);
      await assert.rejects(run(activities.observeStreamFile, { stream }), invalid);
      for (const [name, call] of Object.entries(readingActivities(stream, SECRET_SIZE)))
        await assert.rejects(call(), invalid, name);
      assert.deepEqual(await objectsOf(stream), []);
    });
  }

  test('a symbolic link in place of the file is a replaced file: not followed', async () => {
    const stream = forged('file-link.mp4', secret);
    assert.deepEqual(await run(activities.observeStreamFile, { stream }), { status: 'replaced' });
    const { inspectFile, ...opening } = readingActivities(stream, SECRET_SIZE);
    assert.equal((await inspectFile()).observation.status, 'replaced');
    for (const [name, call] of Object.entries(opening))
      await assert.rejects(call(), refused(FailureType.FileReplaced), name);
    assert.deepEqual(await objectsOf(stream), []);
  });

  test('a file in a subdirectory, named as the watcher names it, is read: in memory, and streamed when large', async () => {
    for (const name of ['ok.mp4', 'big.mp4']) {
      const file = path.join(watchDir, 'cam', name);
      const { size } = fs.statSync(file);
      const stream = forged(`cam/${name}`, file);
      assert.deepEqual(await run(activities.observeStreamFile, { stream }), {
        status: 'present',
        size,
        mtimeMs: fs.statSync(file).mtimeMs,
      });
      const [record] = await run(activities.uploadChunks, {
        stream,
        ranges: [{ index: 0, offset: 0, size }],
        concurrency: 1,
        bytesCompleteAtMs: Date.now(),
      });
      assert.equal(record.sha256, createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
      const verified = await run(activities.verifyChunks, { stream, chunkCount: 1, pendingChunks: [record] });
      assert.deepEqual(verified.changed, []);
      // Indexes and figures only: the check's result carries no byte of the file.
      assert.deepEqual(Object.keys(verified).sort(), ['changed', 'fileSize', 'mtimeMs', 'read']);
    }
  });
});
