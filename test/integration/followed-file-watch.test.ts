import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../src/logger';
import { fileIdentity } from '../../src/stream/identity';
import type { FileLook } from '../../src/stream/types';
import { recordingFilter } from '../../src/watcher/file-filter';
import {
  LOOK_EVERY_MS,
  READ_FOLDER_EVERY_MS,
  watchDirectory,
  type DirectoryWatch,
  type FileEvent,
} from '../../src/watcher/watch-directory';
import { tempDir } from '../support/stack';

/** Longer than a look's delay and an inotify event's: what a report would take to come. */
const SETTLE_MS = LOOK_EVERY_MS * 3;

/**
 * While a follow has a file, the watcher leaves it alone, and reads its folder for new files
 * instead of watching it; when the follow ends, the watcher takes the file up from the follow's
 * last look: a change after that look is reported, the look itself is not.
 */
describe('the watcher leaves a followed file to its follow, and takes it up again after', () => {
  const dir = tempDir('followed-file-watch');
  const followed = new Set<string>();
  const reports: FileEvent[] = [];
  let watch: DirectoryWatch;

  before(async () => {
    watch = watchDirectory({
      dir,
      onFile: (event) => reports.push(event),
      logger: createLogger('error'),
      rescanIntervalMs: 3_600_000,
      isRecordingPath: recordingFilter(['*.mp4']),
      isFollowed: (relPath) => followed.has(relPath),
    });
    await watch.ready;
  });
  after(() => watch?.close());

  const lookAt = (file: string): FileLook => {
    const stats = fs.statSync(file);
    return { identity: fileIdentity(stats), snapshot: { size: stats.size, mtimeMs: stats.mtimeMs } };
  };
  /** Reports since `from`, once events and looks have had time to come. */
  const reportsAfter = async (from: number) => {
    await sleep(SETTLE_MS);
    return reports.slice(from).map((event) => event.snapshot.size);
  };

  test('a followed file is not looked at while it grows; unchanged since the last look, it is not reported after', async () => {
    const file = path.join(dir, 'cam-1.mp4');
    fs.writeFileSync(file, Buffer.alloc(100));
    assert.deepEqual(await reportsAfter(0), [100], 'an unfollowed file is reported');

    followed.add('cam-1.mp4');
    const from = reports.length;
    for (let i = 0; i < 5; i++) {
      fs.appendFileSync(file, Buffer.alloc(100));
      await sleep(50);
    }
    assert.deepEqual(await reportsAfter(from), [], 'nothing is reported while the file is followed');

    followed.delete('cam-1.mp4');
    watch.followEnded('cam-1.mp4', lookAt(file));
    assert.deepEqual(await reportsAfter(from), [], "the follow's last look is what the stream knows");
  });

  test('a change after the follow last looked is reported once the follow ends, and so is one of a failed follow', async () => {
    const file = path.join(dir, 'cam-2.mp4');
    fs.writeFileSync(file, Buffer.alloc(100));
    await reportsAfter(0);

    followed.add('cam-2.mp4');
    fs.appendFileSync(file, Buffer.alloc(100));
    const last = lookAt(file);
    fs.appendFileSync(file, Buffer.alloc(100));
    let from = reports.length;
    assert.deepEqual(await reportsAfter(from), []);
    followed.delete('cam-2.mp4');
    watch.followEnded('cam-2.mp4', last);
    assert.deepEqual(await reportsAfter(from), [300], 'the bytes written after the last look are reported');

    followed.add('cam-2.mp4');
    fs.appendFileSync(file, Buffer.alloc(100));
    from = reports.length;
    followed.delete('cam-2.mp4');
    watch.followEnded('cam-2.mp4');
    assert.deepEqual(await reportsAfter(from), [400], 'a follow that ended without a look leaves the watcher to look');
  });

  test('a later write to a file no longer followed is reported as before', async () => {
    const file = path.join(dir, 'cam-1.mp4');
    const from = reports.length;
    fs.appendFileSync(file, Buffer.alloc(100));
    assert.deepEqual(await reportsAfter(from), [700]);
  });

  test('a folder holding a followed file is read for new files instead of watched, and watched again when the follow ends', async () => {
    const file = path.join(dir, 'cam-3.mp4');
    const other = path.join(dir, 'cam-1.mp4');
    fs.writeFileSync(file, Buffer.alloc(100));
    await reportsAfter(0);
    followed.add('cam-3.mp4');
    fs.appendFileSync(file, Buffer.alloc(100));
    await sleep(SETTLE_MS);

    let from = reports.length;
    fs.appendFileSync(other, Buffer.alloc(100));
    fs.writeFileSync(path.join(dir, 'cam-4.mp4'), Buffer.alloc(100));
    await sleep(READ_FOLDER_EVERY_MS);
    assert.deepEqual(
      await reportsAfter(from),
      [100],
      'only the new file is reported: a write to a file nobody follows waits for the rescan',
    );
    assert.equal(reports.at(-1)?.relPath, 'cam-4.mp4');

    from = reports.length;
    followed.delete('cam-3.mp4');
    watch.followEnded('cam-3.mp4', lookAt(file));
    assert.deepEqual(await reportsAfter(from), [800], "the folder's files are looked at when its last follow ends");
    assert.equal(reports.at(-1)?.relPath, 'cam-1.mp4');

    from = reports.length;
    fs.appendFileSync(other, Buffer.alloc(100));
    assert.deepEqual(await reportsAfter(from), [900], 'the folder is watched again');
  });
});
