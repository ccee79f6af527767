import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { ANY_PORT } from '../../scripts/local-servers';
import { loadConfig } from '../../src/config';
import { streamRef } from '../../src/stream/identity';
import { progressQuery } from '../../src/workflows/definitions';
import { startApp, type AppProcess } from '../support/app-process';
import { readStreamManifest } from '../support/kept-bytes';
import { makeMp4, recordLive, writeTaggedCopy } from '../support/media';
import { runCli } from '../support/operator-cli';
import { checkOutRelease, previousRelease, removeRelease } from '../support/previous-release';
import { startStream } from '../support/stack';
import { waitUntil } from '../support/wait';
import { CHUNK_SIZE, startRig } from '../reliability/rig';

/**
 * An upgrade with streams in flight: the previous release's app (the newest commit whose worker
 * code differs from this checkout's, run from a worktree) leaves streams following a live file,
 * paused, blocked, continued as new and finished; it is stopped, and this checkout's app takes
 * over on the same task queue. Every stream must end byte for byte, and the finished one must not
 * be uploaded again.
 */
describe('an upgrade from the previous release with streams in flight', () => {
  let release: string;
  before(() => {
    release = previousRelease();
  });

  for (const stop of ['SIGTERM', 'SIGKILL'] as const) {
    test(`the previous release's streams, its app stopped by ${stop}, end byte-exact under this one`, async (t) => {
      t.diagnostic(`previous release: ${release}`);
      // Unprivileged, so that a file of mode 000 blocks its stream.
      const rig = await startRig({ name: `upgrade-${stop.toLowerCase()}`, idleTimeoutMs: 3000, unprivileged: true });
      const releaseDir = path.join(rig.dir, 'release');
      let passed = false;
      let appending: NodeJS.Timeout | undefined;
      try {
        checkOutRelease(release, releaseDir);
        const media = path.join(rig.dir, 'media.mp4');
        await makeMp4(media, { seconds: 4, kind: 'regular', bitrate: '2M' });
        const inWatchDir = (relPath: string) => path.join(rig.watchDir, relPath);
        const prefixOf = (relPath: string) => {
          const stats = fs.statSync(inWatchDir(relPath));
          return streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, rig.s3Prefix);
        };
        const manifestOf = (relPath: string) =>
          readStreamManifest(rig.stack.s3, rig.stack.bucket, prefixOf(relPath).prefix);
        const cli = async (...args: string[]) => {
          const result = await runCli(rig.env, args);
          assert.equal(result.code, 0, result.out);
          return result.out;
        };
        /** Moves a file staged outside the watched directory into it: the watcher sees it whole. */
        const moveIn = (staged: string, relPath: string) => {
          fs.mkdirSync(path.dirname(inWatchDir(relPath)), { recursive: true });
          fs.renameSync(staged, inWatchDir(relPath));
        };

        rig.startApp(releaseDir);
        await rig.app.waitForLog((line) => line.msg === 'watching for recordings');

        writeTaggedCopy(fs.readFileSync(media), inWatchDir('finished.mp4'), 'finished');
        // Long enough to be live whenever the upgrade comes; stopped (ffmpeg finishes the file) after it.
        const live = recordLive(inWatchDir('live.mp4'), { seconds: 120, kind: 'regular', bitrate: '2M' });
        const paused = recordLive(inWatchDir('paused.mp4'), { seconds: 120, kind: 'fragmented', bitrate: '2M' });
        const unreadable = path.join(rig.dir, 'blocked.mp4');
        writeTaggedCopy(fs.readFileSync(media), unreadable, 'blocked');
        fs.chmodSync(unreadable, 0o000);
        moveIn(unreadable, 'blocked.mp4');
        // Not a name the watcher takes: this stream is started by hand, with a short history, and
        // grows by a chunk every 300 ms until the upgrade is over.
        const growing = path.join(rig.dir, 'long.bin');
        fs.writeFileSync(growing, randomBytes(40 * CHUNK_SIZE));
        moveIn(growing, 'cont/long.bin');
        const { handle: continued } = await startStream(rig.stack, { config: loadConfig(rig.env) }, 'cont/long.bin', {
          maxHistoryEvents: 30,
        });
        appending = setInterval(() => fs.appendFileSync(inWatchDir('cont/long.bin'), randomBytes(CHUNK_SIZE)), 300);

        await waitUntil(async () => (await manifestOf('finished.mp4'))?.status === 'complete', 60_000);
        await waitUntil(async () => ((await manifestOf('paused.mp4'))?.chunkCount ?? 0) >= 1, 60_000);
        await cli('pause', 'paused.mp4');
        const phase = (relPath: string) =>
          rig.stack.client.workflow
            .getHandle(prefixOf(relPath).workflowId)
            .query(progressQuery)
            .then((progress) => progress.status);
        await waitUntil(async () => (await phase('paused.mp4')) === 'paused', 60_000);
        await waitUntil(async () => (await phase('blocked.mp4')) === 'blocked', 60_000);
        await waitUntil(async () => (await continued.describe()).runId !== continued.firstExecutionRunId, 60_000);
        await waitUntil(async () => ((await manifestOf('live.mp4'))?.chunkCount ?? 0) >= 2, 60_000);
        const finishedManifest = (await manifestOf('finished.mp4'))!;

        await rig.app.stop(stop);
        rig.startApp();
        await rig.app.waitForLog((line) => line.msg === 'watching for recordings');
        fs.chmodSync(inWatchDir('blocked.mp4'), 0o644);
        await cli('resume', 'blocked.mp4');
        await cli('resume', 'paused.mp4');
        const listedLive = (await manifestOf('live.mp4'))?.chunkCount ?? 0;
        await waitUntil(async () => ((await manifestOf('live.mp4'))?.chunkCount ?? 0) > listedLive, 60_000);
        await Promise.all([live.stop(), paused.stop()]);
        clearInterval(appending);

        const streams = ['finished.mp4', 'live.mp4', 'paused.mp4', 'blocked.mp4', 'cont/long.bin'].map((relPath) =>
          rig.expect(relPath),
        );
        const settled = await rig.settle(streams, 120_000);
        assert.deepEqual(settled.problems, []);
        const finished = (await manifestOf('finished.mp4'))!;
        assert.deepEqual(
          { revision: finished.revision, chunks: finished.chunks },
          { revision: finishedManifest.revision, chunks: finishedManifest.chunks },
          'the finished recording was not uploaded again',
        );
        passed = true;
      } finally {
        clearInterval(appending);
        if (fs.existsSync(releaseDir)) removeRelease(releaseDir);
        await rig.stop(!passed);
      }
    });
  }

  for (const first of ['workflow', 'edge'] as const) {
    test(`a rolling upgrade of the split roles, the ${first} process first, keeps a live recording byte-exact`, async () => {
      const rig = await startRig({ name: `upgrade-roles-${first}`, idleTimeoutMs: 3000 });
      const releaseDir = path.join(rig.dir, 'release');
      let passed = false;
      const apps: AppProcess[] = [];
      try {
        checkOutRelease(release, releaseDir);
        const roleEnv = async (role: 'edge' | 'workflow') => ({
          ...rig.env,
          ROLE: role,
          METRICS_PORT: ANY_PORT,
          TEMPORAL_METRICS_PORT: ANY_PORT,
        });
        const start = async (role: 'edge' | 'workflow', root?: string) => {
          const app = startApp(await roleEnv(role), path.join(rig.dir, `${role}.log`), { root });
          apps.push(app);
          await app.waitForLog((line) => line.msg === 'stream-uploader started', 120_000);
          return app;
        };
        const running = { edge: await start('edge', releaseDir), workflow: await start('workflow', releaseDir) };
        const file = path.join(rig.watchDir, 'live.mp4');
        const recording = recordLive(file, { seconds: 120, kind: 'regular', bitrate: '2M' });
        await waitUntil(() => fs.existsSync(file));
        const chunksListed = async () => {
          const stats = fs.statSync(file);
          const { prefix } = streamRef('live.mp4', { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, rig.s3Prefix);
          return (await readStreamManifest(rig.stack.s3, rig.stack.bucket, prefix))?.chunkCount ?? 0;
        };
        // Each step of the rollout: one role replaced by this checkout's, the other left as it is.
        for (const role of first === 'workflow' ? (['workflow', 'edge'] as const) : (['edge', 'workflow'] as const)) {
          const before = await chunksListed();
          await running[role].stop('SIGTERM');
          running[role] = await start(role);
          await waitUntil(async () => (await chunksListed()) >= before + 2, 60_000);
        }
        await recording.stop();
        const settled = await rig.settle([rig.expect('live.mp4')], 120_000);
        assert.deepEqual(settled.problems, []);
        passed = true;
      } finally {
        for (const app of apps) await app.stop('SIGKILL');
        if (fs.existsSync(releaseDir)) removeRelease(releaseDir);
        await rig.stop(!passed);
      }
    });
  }
});
