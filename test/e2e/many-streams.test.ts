import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ANY_PORT } from '../../scripts/local-servers';
import { streamRef } from '../../src/stream/identity';
import { chunkKey } from '../../src/stream/object-keys';
import { startApp, type AppProcess } from '../support/app-process';
import { getObject, objectExists } from '../support/bucket';
import { startStack, tempDir, type TestStack } from '../support/stack';
import { waitUntil } from '../support/wait';

/** More than the 100 activities the Temporal SDK runs at once by default. */
const STREAMS = 110;
const CHUNK_SIZE = 4096;
const PREFIX = 'many';

/**
 * Each recording being written holds one activity (its follow) for as long as it grows. With the
 * SDK's default of 100 activities at once, the recordings past the hundredth waited for another
 * follow to end, which a growing file's does only after MAX_FOLLOW_MS (5 min): their chunks did not
 * go up (this test then timed out). Here 110 files grow together, and each chunk of every one must
 * reach the bucket.
 */
describe('more recordings growing at once than the Temporal SDK runs activities by default', () => {
  let stack: TestStack;
  let watchDir: string;
  let app: AppProcess | undefined;
  let growing: NodeJS.Timeout | undefined;

  before(async () => {
    stack = await startStack();
    watchDir = tempDir('many-streams');
  });
  after(async () => {
    clearInterval(growing);
    await app?.stop('SIGKILL');
    await stack?.stop();
  });

  test(`the chunks of each of ${STREAMS} recordings go up while they all grow`, async () => {
    app = startApp(
      stack.env({
        WATCH_DIR: watchDir,
        CHUNK_SIZE: String(CHUNK_SIZE),
        // Longer than the test: no follow ends because its file went quiet.
        STREAM_IDLE_TIMEOUT: '10m',
        S3_PREFIX: PREFIX,
        TEMPORAL_TASK_QUEUE: `many-${process.pid}`,
        METRICS_PORT: ANY_PORT,
        TEMPORAL_METRICS_PORT: ANY_PORT,
        SHUTDOWN_GRACE_TIME: '1s',
      }),
      path.join(watchDir, '..', 'many-streams-app.log'),
    );
    await app.waitForLog((line) => line.msg === 'watching for recordings');

    const files = Array.from({ length: STREAMS }, (_, i) =>
      path.join(watchDir, `cam-${String(i).padStart(3, '0')}.mp4`),
    );
    for (const file of files) fs.writeFileSync(file, randomBytes(CHUNK_SIZE + 100));
    // A few bytes a second each: every file keeps growing, and its follow never ends on a quiet file.
    growing = setInterval(() => {
      for (const file of files) fs.appendFileSync(file, randomBytes(10));
    }, 1_000);

    const prefixes = files.map((file) => {
      const stats = fs.statSync(file);
      return streamRef(path.basename(file), { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, PREFIX).prefix;
    });
    /** Waits until chunk `index` of every recording is in the bucket, holding the file's bytes. */
    const everyChunkUp = async (index: number) => {
      const missing = new Set(prefixes.map((prefix) => chunkKey(prefix, index)));
      await waitUntil(
        async () => {
          for (const key of missing) if (await objectExists(stack.s3, stack.bucket, key)) missing.delete(key);
          return missing.size === 0;
        },
        120_000,
        () => `chunk ${index} of ${missing.size} of ${STREAMS} recordings is not in the bucket`,
      );
      for (const [i, prefix] of prefixes.entries()) {
        const stored = await getObject(stack.s3, stack.bucket, chunkKey(prefix, index));
        const bytes = fs.readFileSync(files[i]).subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE);
        assert.ok(stored.equals(bytes), `${files[i]}: chunk ${index} holds the file's bytes`);
      }
    };
    // The first chunks can go up before the follows have taken every activity slot; once every
    // stream's follow was started, the second chunk of each needs that follow running.
    await everyChunkUp(0);
    for (const file of files) fs.appendFileSync(file, randomBytes(CHUNK_SIZE));
    await everyChunkUp(1);
  });
});
