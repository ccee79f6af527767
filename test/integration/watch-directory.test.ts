import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/logger';
import { watchDirectory, type FileEvent, type LookPace } from '../../src/watcher/watch-directory';
import { tempDir } from '../support/stack';

const WRITES = 30;
const WRITE_EVERY_MS = 50;
const PACE_MS = 300;

/**
 * Writes a file 30 times, 50 ms apart, in a real watched directory, with the watcher looking at it
 * at the pace given; returns the sizes it reported, once the writes have been quiet for a while.
 */
async function reportedSizes(pace: LookPace): Promise<number[]> {
  const dir = tempDir('watch-directory');
  const sizes: number[] = [];
  const watch = watchDirectory({
    dir,
    onFile: (event: FileEvent) => sizes.push(event.snapshot.size),
    logger: createLogger('warn'),
    rescanIntervalMs: 600_000,
    isRecordingPath: (relPath) => relPath.endsWith('.mp4'),
    lookPace: () => pace,
  });
  await watch.ready;
  const file = path.join(dir, 'camera.mp4');
  try {
    for (let write = 0; write < WRITES; write++) {
      fs.appendFileSync(file, Buffer.alloc(1000, write));
      await sleep(WRITE_EVERY_MS);
    }
    await sleep(PACE_MS * 3);
  } finally {
    await watch.close();
  }
  return sizes;
}

describe('watchDirectory looks at a growing file at the pace it is given', () => {
  test('throttled: every pace while the writes come, and the final size after them', async () => {
    const sizes = await reportedSizes({ everyMs: PACE_MS });
    // 1.5 s of writes at one look per 300 ms: the first, four or five more, and the last.
    assert.ok(sizes.length >= 4, `reported ${sizes.length} times: ${sizes.join(', ')}`);
    assert.equal(sizes.at(-1), WRITES * 1000);
  });

  test('after a pause: the first write, then only the final size once the writes stop', async () => {
    const sizes = await reportedSizes({ everyMs: PACE_MS, afterPause: true });
    assert.equal(sizes.length, 2, `reported ${sizes.length} times: ${sizes.join(', ')}`);
    assert.ok(sizes[0] < WRITES * 1000);
    assert.equal(sizes[1], WRITES * 1000);
  });
});
