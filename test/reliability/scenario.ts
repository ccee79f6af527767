import type { ExpectedStream } from './audit';
import { figuresOf, type FaultFigures, type ScenarioResult } from './figures';
import { checkMetrics } from './metrics-check';
import type { Profile } from './profiles';
import { seededRandom, type Random } from './random';
import { startRig, type Rig, type RigOptions, type Settled } from './rig';

export interface ScenarioContext {
  profile: Profile;
  random: Random;
}

/** One fault (or family of misbehaving files), run against its own rig. */
export interface Scenario {
  fault: string;
  title: string;
  run(context: ScenarioContext): Promise<FaultFigures>;
}

export interface Injected extends ScenarioResult {
  /** Every stream the scenario made, with how it must end. */
  streams: ExpectedStream[];
  /** Checks of its own once the bucket is settled and audited; returns the problems found. */
  check?(audit: Settled): Promise<string[]>;
  /** When the streams' work began: the figures then give the seconds from it until they all ended. */
  settleFrom?: number;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `inject` on a fresh rig, lets the streams end, audits the bucket and measures. The app must
 * still be running at the end: one that died on its own crashed. The watched files are kept when
 * anything went wrong.
 */
export async function onRig(
  scenario: Pick<Scenario, 'fault' | 'title'>,
  context: ScenarioContext,
  options: Omit<RigOptions, 'name'>,
  inject: (rig: Rig) => Promise<Injected>,
): Promise<FaultFigures> {
  const started = Date.now();
  const rig = await startRig({ name: scenario.fault, ...options });
  let passed = false;
  try {
    const injected = await inject(rig);
    const audit = await rig.settle(injected.streams, context.profile.completionTimeoutMs);
    audit.problems.push(...((await injected.check?.(audit)) ?? []));
    const { exitCode, signalCode } = rig.app.child;
    if (exitCode !== null || signalCode !== null)
      audit.problems.push(`the app exited on its own (${exitCode ?? signalCode}); see ${rig.dir}/app.log`);
    else {
      const metrics = await checkMetrics(rig, audit, !!injected.failuresExpected);
      audit.problems.push(...metrics.problems);
      injected.extra = { ...injected.extra, ...metrics.figures };
    }
    const stray = rig.strayLines();
    if (stray.length > 0)
      audit.problems.push(
        `${stray.length} lines on the app's stdout are not JSON log lines, e.g. ${JSON.stringify(stray[0])}`,
      );
    if (injected.settleFrom !== undefined)
      injected.extra = { ...injected.extra, settleSeconds: Math.round((audit.settledAt - injected.settleFrom) / 1000) };
    const figures = figuresOf(scenario, rig.runs, injected, audit, (Date.now() - started) / 1000);
    passed = figures.problems.length === 0;
    return figures;
  } finally {
    await rig.stop(!passed);
  }
}

/** Each scenario draws from its own seeded source, so that one run alone (`--only`) replays its timings. */
export function contextFor(scenario: Scenario, profile: Profile, seed: number): ScenarioContext {
  const salt = [...scenario.fault].reduce((hash, char) => (Math.imul(hash, 31) + char.charCodeAt(0)) >>> 0, 0);
  return { profile, random: seededRandom((seed ^ salt) >>> 0) };
}
