import type { Profile } from './profiles';
import type { Random } from './random';
import type { ScenarioResult } from './figures';
import { startRollingRecordings } from './recordings';
import { CHUNK_SIZE, IDLE_TIMEOUT_MS, SHUTDOWN_GRACE_MS, type Rig, type RigOptions } from './rig';
import { onRig, sleep, type Scenario, type ScenarioContext } from './scenario';

/**
 * Faults of the world around the app, each injected while live ffmpeg recordings are being
 * written and uploaded. After each fault the scenario waits for a stream to make progress again
 * (the recovery time) before the next one, so every fault lands on a working system.
 */

/**
 * A scenario that starts live recordings and the app, waits for the first upload, runs `inject`
 * while the recordings go on, lets them end, and expects every one of them whole in the bucket.
 */
function underLoad(
  fault: string,
  title: string,
  inject: (rig: Rig, context: ScenarioContext) => Promise<ScenarioResult>,
  rigOptions: (profile: Profile) => Omit<RigOptions, 'name'> = () => ({}),
): Scenario {
  const scenario: Scenario = {
    fault,
    title,
    run: (context) =>
      onRig(scenario, context, rigOptions(context.profile), async (rig) => {
        const recordings = startRollingRecordings(rig.watchDir, 'live', context.profile.recordings, context.random);
        try {
          const started = Date.now();
          rig.startApp();
          await rig.secondsToProgress(started);
          const result = await inject(rig, context);
          await recordings.finish();
          return { ...result, streams: recordings.relPaths.map((relPath) => rig.expect(relPath)) };
        } catch (err) {
          recordings.abort();
          throw err;
        }
      }),
  };
  return scenario;
}

const randomMs = (random: Random, [min, max]: [number, number]) => random.int(min, max);

/** SIGKILLs the app `kills` times at random points, each time restarting it after `downMs`. */
function killAndRestart(fault: string, title: string, kills: (profile: Profile) => number, downMs: number): Scenario {
  return underLoad(fault, title, async (rig, { profile, random }) => {
    const recovery: number[] = [];
    for (let kill = 0; kill < kills(profile); kill++) {
      await sleep(randomMs(random, profile.killDelayMs));
      await rig.app.stop('SIGKILL');
      await sleep(downMs);
      const restarted = Date.now();
      rig.startApp();
      recovery.push(await rig.secondsToProgress(restarted));
    }
    return { faultsInjected: kills(profile), recovery, extra: { downSeconds: downMs / 1000 } };
  });
}

const sigkill = killAndRestart(
  'sigkill',
  'App killed (SIGKILL) at random points and restarted',
  (profile) => profile.kills,
  0,
);

/**
 * Down longer than the idle timeout: every live stream's idle timer fires while no worker runs,
 * and the restarted watcher's first report of each file arrives with it.
 */
const sigkillDown = killAndRestart(
  'sigkill-down',
  'App killed and kept down longer than the idle timeout, then restarted',
  (profile) => profile.longDownKills,
  IDLE_TIMEOUT_MS + 1000,
);

const LINK_FAULTS = ['drop', 'stall', 'reset'] as const;

const networkCuts = underLoad(
  'network',
  'Network to S3 dropped, stalled and reset repeatedly (TCP proxy)',
  async (rig, { profile, random }) => {
    const recovery: number[] = [];
    const injected = { drop: 0, stall: 0, reset: 0 };
    for (let fault = 0; fault < profile.linkFaults; fault++) {
      const kind = random.pick(LINK_FAULTS);
      const lasting = randomMs(random, profile.linkFaultMs);
      injected[kind]++;
      if (kind === 'reset') {
        // A flapping link: every connection made meanwhile is reset too.
        for (const until = Date.now() + lasting; Date.now() < until; await sleep(200)) rig.proxy.resetAll();
      } else {
        rig.proxy.setMode(kind);
        await sleep(lasting);
        rig.proxy.setMode('pass');
      }
      const restored = Date.now();
      recovery.push(await rig.secondsToProgress(restored));
      await sleep(random.int(500, 3000));
    }
    return {
      faultsInjected: profile.linkFaults,
      recovery,
      extra: { ...injected, connectionsReset: rig.proxy.stats().resets },
    };
  },
);

/** S3 out for longer than one upload attempt may take (S3_REQUEST_TIMEOUT), then back. */
function s3Outage(fault: string, title: string, outage: (rig: Rig, profile: Profile) => Promise<void>): Scenario {
  return underLoad(
    fault,
    title,
    async (rig, { profile }) => {
      await outage(rig, profile);
      const back = Date.now();
      return {
        faultsInjected: 1,
        recovery: [await rig.secondsToProgress(back)],
        extra: { outageSeconds: profile.s3OutageMs / 1000, s3RequestTimeout: profile.s3RequestTimeout },
        failuresExpected: true,
      };
    },
    (profile) => ({ env: { S3_REQUEST_TIMEOUT: profile.s3RequestTimeout } }),
  );
}

const s3Down = s3Outage('s3-down', 'S3 server stopped longer than an upload timeout, then back', (rig, profile) =>
  rig.stack.minio.restart(profile.s3OutageMs),
);

const s3Silent = s3Outage(
  's3-silent',
  'S3 unresponsive (connections stall) longer than an upload timeout',
  async (rig, profile) => {
    rig.proxy.setMode('stall');
    await sleep(profile.s3OutageMs);
    rig.proxy.setMode('pass');
  },
);

const temporalRestart = underLoad(
  'temporal-restart',
  'Temporal server stopped and restarted mid-stream (SQLite state)',
  async (rig, { profile, random }) => {
    const recovery: number[] = [];
    for (let restart = 0; restart < profile.temporalRestarts; restart++) {
      await sleep(random.int(0, 3000));
      await rig.stack.temporal.restart(profile.temporalDownMs);
      const back = Date.now();
      recovery.push(await rig.secondsToProgress(back));
    }
    return {
      faultsInjected: profile.temporalRestarts,
      recovery,
      extra: { downSeconds: profile.temporalDownMs / 1000 },
    };
  },
);

/** Slow enough that one chunk takes twice the grace period: the shutdown must cut it off. */
const SLOW_LINK_BYTES_PER_SECOND = CHUNK_SIZE / ((2 * SHUTDOWN_GRACE_MS) / 1000);
/** How long an app may take to exit after SIGTERM before it counts as hung. */
const EXIT_DEADLINE_MS = SHUTDOWN_GRACE_MS + 60_000;

const sigterm = underLoad(
  'sigterm',
  'Graceful shutdown (SIGTERM) mid-upload, then restart',
  async (rig, { profile, random }) => {
    const recovery: number[] = [];
    const exitSeconds: number[] = [];
    const problems: string[] = [];
    for (let stop = 0; stop < profile.sigterms; stop++) {
      rig.proxy.throttleUp(SLOW_LINK_BYTES_PER_SECOND);
      await uploadInFlight(rig);
      await sleep(random.int(0, 1000));
      const signalled = Date.now();
      const exit = await Promise.race([rig.app.stop('SIGTERM'), sleep(EXIT_DEADLINE_MS).then(() => 'hung' as const)]);
      exitSeconds.push((Date.now() - signalled) / 1000);
      if (exit === 'hung') {
        problems.push(`the app did not exit within ${EXIT_DEADLINE_MS / 1000} s of SIGTERM`);
        await rig.app.stop('SIGKILL');
      } else if (exit !== 0) problems.push(`the app exited with ${exit} after SIGTERM`);
      rig.proxy.throttleUp(null);
      const restarted = Date.now();
      rig.startApp();
      recovery.push(await rig.secondsToProgress(restarted));
    }
    const slowest = Math.round(Math.max(...exitSeconds) * 10) / 10;
    return {
      faultsInjected: profile.sigterms,
      recovery,
      problems,
      extra: { graceSeconds: SHUTDOWN_GRACE_MS / 1000, exitSecondsMax: slowest },
    };
  },
);

/** Resolves once bytes are moving from the app to S3: a chunk upload is in flight. */
async function uploadInFlight(rig: Rig, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let sent = rig.proxy.stats().bytesUp; Date.now() < deadline;) {
    await sleep(100);
    const now = rig.proxy.stats().bytesUp;
    if (now - sent > 1024) return;
    sent = now;
  }
  throw new Error(`no upload in flight within ${timeoutMs / 1000} s`);
}

export const FAULT_SCENARIOS: Scenario[] = [
  sigkill,
  sigkillDown,
  networkCuts,
  s3Down,
  s3Silent,
  temporalRestart,
  sigterm,
];
