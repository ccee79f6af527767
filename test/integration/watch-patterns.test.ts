import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { requireCommand } from '../../scripts/local-servers';
import { createLogger } from '../../src/logger';
import { streamRef } from '../../src/stream/identity';
import { startWatcher } from '../../src/watcher';
import { downloadStreamSha256, listKeys, waitForCompleteManifest } from '../support/bucket';
import { makeMp4, sha256File } from '../support/media';
import { startStack, startWorker, tempDir, type TestStack } from '../support/stack';

const run = promisify(execFile);

/**
 * WATCH_PATTERNS with the real watcher: every matching container becomes a complete stream, the
 * duration read for MP4 and MOV only; a file that matches no pattern is left alone.
 */
describe('WATCH_PATTERNS', () => {
  let stack: TestStack;
  const watchDir = tempDir('watch-patterns');
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.stop());

  test('a recorder writing name.mkv, then remuxing it to name.mp4, gives two complete streams; .mov and .ts upload too', async () => {
    const worker = await startWorker(stack, {
      WATCH_DIR: watchDir,
      WATCH_PATTERNS: '*.mp4, *.MOV, *.mkv, *.ts',
      CHUNK_SIZE: '256KiB',
      STREAM_IDLE_TIMEOUT: '1s',
    });
    const watcher = await startWatcher(worker.config, stack.client, createLogger('warn'));
    try {
      // As OBS does: record to .mkv (safe against a crash), then remux it to .mp4 beside it.
      await makeMp4(path.join(watchDir, 'obs.mkv'), { seconds: 4, kind: 'regular' });
      await run(requireCommand('ffmpeg'), [
        ...['-hide_banner', '-loglevel', 'error', '-i', path.join(watchDir, 'obs.mkv')],
        ...['-c', 'copy', path.join(watchDir, 'obs.mp4')],
      ]);
      await makeMp4(path.join(watchDir, 'camera.mov'), { seconds: 3, kind: 'regular' });
      await makeMp4(path.join(watchDir, 'segment.ts'), { seconds: 3, kind: 'regular' });
      await makeMp4(path.join(watchDir, 'ignored.avi'), { seconds: 1, kind: 'regular' });

      const hasDuration: Record<string, boolean> = {
        'obs.mkv': false,
        'obs.mp4': true,
        'camera.mov': true,
        'segment.ts': false,
      };
      for (const [relPath, durationRead] of Object.entries(hasDuration)) {
        const file = path.join(watchDir, relPath);
        const stats = fs.statSync(file);
        const stream = streamRef(relPath, stats, worker.config.s3.prefix);
        const manifest = await waitForCompleteManifest(stack.s3, stack.bucket, stream.prefix, 60_000);
        assert.equal(manifest.totalSize, stats.size, relPath);
        assert.equal(await downloadStreamSha256(stack.s3, stack.bucket, manifest), await sha256File(file), relPath);
        assert.equal(manifest.durationSeconds !== null, durationRead, `${relPath}: ${manifest.durationSeconds}`);
      }
      assert.deepEqual(await listKeys(stack.s3, stack.bucket, 'ignored.avi'), []);
    } finally {
      await watcher.close();
      await worker.stop();
    }
  });
});
