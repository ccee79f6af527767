import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { streamRef } from '../../src/stream/identity';
import { isCompleteFor, type Manifest } from '../../src/stream/manifest';
import { checkListedChunks, KeptBytes, readStreamManifest } from '../support/kept-bytes';
import { recordLive, type Mp4Kind } from '../support/media';
import { runCli } from '../support/operator-cli';
import type { ExpectedStream } from './audit';
import { seededRandom, type Random } from './random';
import type { Rig } from './rig';
import { onRig, sleep, type Scenario } from './scenario';

/**
 * Operators and recorders acting at random on finished and live recordings, mixed with faults:
 * sequences of actions drawn from a seed, each on a recording of its own, several sequences at
 * once in one app. After every sequence the bucket is checked from outside the app: the chunks
 * its manifest lists are there with their SHA-256, every chunk a finalized revision listed is
 * still there unless a later complete revision superseded it, and the recording ends complete,
 * byte for byte, unless its file was deleted.
 */

/** What a recorder does to its file, what an operator does with the CLI, and faults of the world. */
export const ACTIONS = [
  'append',
  'touch',
  'truncate',
  'rewrite-header',
  'delete',
  'pause',
  'resume',
  'cancel',
  'reupload',
  'wait',
  'kill-app',
  'restart-temporal',
  's3-outage',
] as const;
export type Action = (typeof ACTIONS)[number];

/** Faults of the world are rarer than what operators and recorders do. */
const WEIGHTS: Record<Action, number> = {
  append: 3,
  touch: 3,
  truncate: 2,
  'rewrite-header': 2,
  delete: 1,
  pause: 2,
  resume: 2,
  cancel: 3,
  reupload: 3,
  wait: 3,
  'kill-app': 1,
  'restart-temporal': 0.3,
  's3-outage': 0.7,
};

const KINDS: Mp4Kind[] = ['regular', 'fragmented', 'faststart'];

/** The sequence a seed draws: its recording, then its actions with the pause before each. */
export interface Sequence {
  seed: number;
  kind: Mp4Kind;
  recordSeconds: number;
  steps: { action: Action; afterMs: number }[];
}

export function drawSequence(seed: number, actions: [number, number]): Sequence {
  const random = seededRandom(seed);
  const total = Object.values(WEIGHTS).reduce((sum, weight) => sum + weight, 0);
  const draw = (): Action => {
    let at = random.next() * total;
    for (const action of ACTIONS) if ((at -= WEIGHTS[action]) < 0) return action;
    return 'wait';
  };
  return {
    seed,
    kind: random.pick(KINDS),
    recordSeconds: random.int(2, 4),
    steps: Array.from({ length: random.int(...actions) }, () => ({ action: draw(), afterMs: random.int(0, 2500) })),
  };
}

export interface OperatorPlan {
  sequences: number;
  /** Actions per sequence. */
  actions: [number, number];
  /** Sequences running at once. */
  lanes: number;
  /** How long a sequence's recording gets to end complete once the actions are over. */
  endTimeoutMs: number;
  /**
   * Draws the sequences from this seed rather than the run's: the few sequences of the fast subset
   * are ones that passed, so that `npm test` guards against regressions while the long run, drawn
   * afresh each time, looks for the next defect (see docs/reliability.md for those still open).
   */
  seed?: number;
}

/** Faults of the world one at a time, whichever sequence draws them: one app, one server. */
class WorldLock {
  private last: Promise<void> = Promise.resolve();
  run(fault: () => Promise<void>): Promise<void> {
    const next = this.last.then(fault);
    this.last = next.catch(() => undefined);
    return next;
  }
}

interface SequenceOutcome {
  stream?: ExpectedStream;
  actions: number;
  problems: string[];
}

async function runSequence(
  rig: Rig,
  world: WorldLock,
  plan: OperatorPlan,
  sequence: Sequence,
): Promise<SequenceOutcome> {
  const relPath = `operators/seq-${sequence.seed}-${sequence.kind}.mp4`;
  const file = path.join(rig.watchDir, relPath);
  const random = seededRandom(sequence.seed ^ 0x5bd1e995);
  const say = (problem: string) => `sequence ${sequence.seed} (${sequence.kind}): ${problem}`;
  const cli = (...args: string[]) => runCli(rig.env, args);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await recordLive(file, { seconds: sequence.recordSeconds, kind: sequence.kind, bitrate: '1M' }).done;
  const stats = fs.statSync(file);
  const { prefix, workflowId } = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, rig.s3Prefix);
  const kept = new KeptBytes();
  const look = async () => {
    const manifest = await readStreamManifest(rig.stack.s3, rig.stack.bucket, prefix);
    if (manifest) kept.observe(manifest);
    return manifest;
  };
  let deleted = false;
  for (const { action, afterMs } of sequence.steps) {
    await sleep(afterMs);
    await look();
    const size = deleted ? 0 : fs.statSync(file).size;
    switch (action) {
      case 'append':
        if (!deleted) fs.appendFileSync(file, randomBytes(random.int(1, 600_000)));
        break;
      case 'touch':
        if (!deleted) fs.utimesSync(file, new Date(), new Date());
        break;
      case 'truncate':
        if (!deleted) fs.truncateSync(file, Math.floor(size * (0.3 + 0.6 * random.next())));
        break;
      case 'rewrite-header':
        if (!deleted) rewriteStart(file, random);
        break;
      case 'delete':
        if (!deleted) fs.rmSync(file);
        deleted = true;
        break;
      case 'pause':
      case 'resume':
      case 'cancel':
        await cli(action, relPath);
        break;
      case 'reupload':
        if (!deleted) await cli('reupload', file);
        break;
      case 'wait':
        await waitFor(look, (manifest) => manifest?.status !== 'recording', 10_000);
        break;
      case 'kill-app':
        await world.run(async () => {
          await rig.app.stop('SIGKILL');
          await sleep(random.int(0, 3000));
          // Up before the next fault: an app that cannot reach Temporal as it starts exits, for its
          // supervisor (compose's restart policy) to start it again, which this world has not.
          await rig.startApp().waitForLog((line) => line.msg === 'stream-uploader started', 120_000);
        });
        break;
      case 'restart-temporal':
        await world.run(() => rig.stack.temporal.restart(random.int(500, 3000)));
        break;
      case 's3-outage':
        await world.run(async () => {
          rig.proxy.setMode(random.next() < 0.5 ? 'drop' : 'stall');
          await sleep(random.int(1000, 4000));
          rig.proxy.setMode('pass');
        });
        break;
    }
    await look();
  }

  // The operator cleans up: resumes what is paused, and re-uploads what was cancelled.
  const problems: string[] = [];
  // Ended: no run of the stream going (the audit must not race a late one), and, for a file that
  // exists, a complete manifest of it as it is.
  const workflow = rig.stack.client.workflow.getHandle(workflowId);
  // A stream never started has no run: a file deleted before any app saw it (one being killed).
  // Any other error (Temporal restarting) counts as running: ask again later.
  const running = async () =>
    (await workflow.describe().then(
      (description) => description.status.name,
      (err: unknown) => (err instanceof WorkflowNotFoundError ? 'NONE' : 'RUNNING'),
    )) === 'RUNNING';
  const completeForFile = (manifest: Manifest | null) =>
    deleted ? manifest?.status !== 'recording' : !!manifest && isCompleteFor(manifest, fs.statSync(file));
  const ended = async () => !(await running()) && completeForFile(await look());
  const deadline = Date.now() + plan.endTimeoutMs;
  const said: string[] = [];
  let done = await ended();
  while (!done && Date.now() < deadline) {
    said.push((await cli('resume', relPath)).out.trim());
    if (!deleted && !(await running()) && !completeForFile(await look()))
      said.push((await cli('reupload', file)).out.trim());
    done = await waitFor(ended, (value) => value, 15_000);
  }
  if (!done) {
    const status = (await cli('status', workflowId)).out.replace(/\s+/g, ' ');
    problems.push(
      say(
        `not ended ${plan.endTimeoutMs / 1000} s after its actions (manifest ${(await look())?.status}); the CLI said: ${said.slice(-2).join(' / ')}; status: ${status}`,
      ),
    );
  }
  const stream: ExpectedStream = deleted ? { relPath, file, prefix, outcome: 'deleted' } : rig.expect(relPath);
  const last = await look();
  if (last) problems.push(...(await checkListedChunks(rig.stack.s3, rig.stack.bucket, last)).map(say));
  problems.push(...(await kept.check(rig.stack.s3, rig.stack.bucket, prefix)).map(say));
  return { stream, actions: sequence.steps.length, problems };
}

/** A recorder patching what it wrote first: a header rewritten in place, the size unchanged. */
function rewriteStart(file: string, random: Random): void {
  const handle = fs.openSync(file, 'r+');
  try {
    fs.writeSync(handle, randomBytes(random.int(8, 64)), 0, undefined, 0);
  } finally {
    fs.closeSync(handle);
  }
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await sleep(250);
    value = await read();
  }
  return value;
}

/**
 * The profile's sequences, `lanes` at a time. A sequence's seed is printed with its problems;
 * OPERATOR_SEQUENCE_SEED=<seed> runs that one sequence alone.
 */
const operators: Scenario = {
  fault: 'operators',
  title: 'Operators and recorders acting at random, mixed with faults',
  run: (context) =>
    onRig(operators, context, { idleTimeoutMs: 2000 }, async (rig) => {
      const plan = context.profile.operators;
      const { sequences, actions, lanes } = plan;
      const only = process.env.OPERATOR_SEQUENCE_SEED;
      const random = plan.seed === undefined ? context.random : seededRandom(plan.seed);
      const seeds = only ? [Number(only)] : Array.from({ length: sequences }, () => random.int(1, 2 ** 31 - 1));
      const world = new WorldLock();
      await rig.startApp().waitForLog((line) => line.msg === 'stream-uploader started');
      const outcomes: SequenceOutcome[] = [];
      let next = 0;
      const counts: Partial<Record<Action, number>> = {};
      await Promise.all(
        Array.from({ length: Math.min(lanes, seeds.length) }, async () => {
          while (next < seeds.length) {
            const sequence = drawSequence(seeds[next++], actions);
            for (const { action } of sequence.steps) counts[action] = (counts[action] ?? 0) + 1;
            outcomes.push(
              await runSequence(rig, world, plan, sequence).catch((err: Error) => ({
                actions: sequence.steps.length,
                problems: [`sequence ${sequence.seed}: ${err.message}`],
              })),
            );
          }
        }),
      );
      // A sequence may have restarted the app last: it is up before the metrics are read.
      await rig.app.waitForLog((line) => line.msg === 'stream-uploader started', 120_000);
      return {
        streams: outcomes.flatMap((outcome) => (outcome.stream ? [outcome.stream] : [])),
        faultsInjected: outcomes.reduce((sum, outcome) => sum + outcome.actions, 0),
        recovery: [],
        problems: outcomes.flatMap((outcome) => outcome.problems),
        failuresExpected: false,
        extra: { sequences: seeds.length, actions: JSON.stringify(counts) },
      };
    }),
};

export const OPERATOR_SCENARIOS: Scenario[] = [operators];
