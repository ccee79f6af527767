import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { toolPath } from '../../scripts/local-servers';
import type { StreamActivities } from '../../src/activities';
import type { FollowFileResult } from '../../src/activities/follow-loop';
import { buildManifest, summarize, type ManifestSummary } from '../../src/stream/manifest';
import { streamRef } from '../../src/stream/identity';
import { STREAM_SEARCH_ATTRIBUTES } from '../../src/stream/search-attributes';
import type { ChunkRecord, FileObservation, StreamProgress, StreamUploadInput } from '../../src/stream/types';
import type { FollowFileInput, WriteManifestInput } from '../../src/activities/activity-io';
import { StreamUploadWorkflow } from '../../src/workflows';
import { fileChangedSignal, pauseSignal, progressQuery, resumeSignal } from '../../src/workflows/definitions';
import { recordHistory } from '../support/histories';
import { waitUntil } from '../support/wait';

/**
 * The workflow's branches that are slow or hard to reach with real servers and real files (a
 * pause during a follow, a stream blocked then resumed, a file that shrank, continue-as-new, a
 * cancel during the final check, the durable idle timer), with stub activities: the
 * orchestration alone, a second or two each. The real-server tests cover the activities.
 *
 * On the Temporal CLI's dev server through @temporalio/testing, not its time-skipping test
 * server: that one refuses the workflow's custom search attributes (its OperatorService answers
 * UNIMPLEMENTED, so they cannot be registered), so the timer test uses a short idle timeout.
 */

const CHUNK_SIZE = 100;
const TASK_QUEUE = 'workflow-branches';

type Stubs = Partial<Record<keyof StreamActivities, (input: never) => Promise<unknown>>>;

/** Every activity call, by name, with its input, in order. */
const calls: Array<{ name: string; input: unknown }> = [];
let stubs: Stubs = {};

const record = (index: number): ChunkRecord => ({
  index,
  offset: index * CHUNK_SIZE,
  size: CHUNK_SIZE,
  key: `p/chunks/${index}`,
  sha256: 'ab'.repeat(32),
  etag: '"e"',
  uploadedAt: '2026-12-01T00:00:00.000Z',
});

const present = (size: number, mtimeMs: number): FileObservation => ({ status: 'present', size, mtimeMs });

/** What writeManifest would store, built by the same pure code, without a bucket. */
function manifestOf(input: WriteManifestInput): ManifestSummary {
  const last = input.pendingChunks.at(-1);
  return summarize(buildManifest(input, input.chunkCount, last), input.stream.prefix);
}

/** A follow that uploads what the input asks up to `size` and completes the stream at `mtimeMs`. */
function completingFollow(size: number, mtimeMs: number) {
  return async (input: FollowFileInput): Promise<FollowFileResult> => {
    const records = Array.from({ length: Math.floor(size / CHUNK_SIZE) - input.nextIndex }, (_, i) =>
      record(input.nextIndex + i),
    );
    const completed = manifestOf({
      ...input.liveManifest,
      status: 'complete',
      file: { size, mtimeMs },
      chunkCount: input.nextIndex + records.length,
      pendingChunks: [...input.liveManifest.pendingChunks, ...records],
    });
    return { records, observation: present(size, mtimeMs), end: 'quiet', completed };
  };
}

/**
 * An activity whose worker died: it never heartbeats again, so it hears of no cancel, and Temporal
 * times it out (heartbeat timeout, 15 s). `release` lets the stub itself end, once the test is over.
 */
function deadWorker(): { activity: () => Promise<never>; release: () => void } {
  let release = () => undefined as void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return {
    activity: async () => {
      await released;
      throw ApplicationFailure.nonRetryable('this worker was gone', 'TestWorkerGone');
    },
    release,
  };
}

/**
 * Heartbeats until the activity is cancelled, as a long follow or check would, then rejects with
 * the cancellation.
 */
async function untilCancelled(): Promise<never> {
  const context = Context.current();
  const beat = setInterval(() => context.heartbeat(), 50);
  try {
    return await context.cancelled;
  } finally {
    clearInterval(beat);
  }
}

describe('StreamUploadWorkflow branches, with stub activities', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  let id = 0;

  before(async () => {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: toolPath('temporal') },
        searchAttributes: STREAM_SEARCH_ATTRIBUTES,
        extraArgs: ['--log-level', 'warn'],
      },
    });
    const activities = new Proxy({} as Record<string, (input: never) => Promise<unknown>>, {
      get: (_target, name: string) => async (input: never) => {
        calls.push({ name, input });
        const stub = stubs[name as keyof StreamActivities];
        if (!stub) throw ApplicationFailure.nonRetryable(`no stub for ${name}`, 'TestStubMissing');
        return stub(input);
      },
    });
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: TASK_QUEUE,
      workflowsPath: require.resolve('../../src/workflows'),
      activities: Object.fromEntries(
        [
          'openStream',
          'observeStreamFile',
          'uploadChunks',
          'followFile',
          'verifyChunks',
          'inspectFile',
          'writeManifest',
          'assembleRecording',
          'notifyCompletion',
          'deleteLocalFile',
        ].map((name) => [name, activities[name]]),
      ),
    });
    running = worker.run();
  });
  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });
  beforeEach(() => {
    calls.length = 0;
    stubs = {
      openStream: async () => ({ completed: null, reusableChunks: 0, revision: 1 }),
      writeManifest: async (input: WriteManifestInput) => manifestOf(input),
    };
  });

  function start(file: { size: number; mtimeMs: number }, extra: Partial<StreamUploadInput> = {}) {
    const stream = streamRef(`cam/branch-${++id}.mp4`, { ino: id, birthtimeMs: 1 }, 'p');
    const input: StreamUploadInput = {
      stream,
      chunkSize: CHUNK_SIZE,
      idleTimeoutMs: 5_000,
      file,
      fileTaskQueue: TASK_QUEUE,
      ...extra,
    };
    return env.client.workflow.start(StreamUploadWorkflow, {
      workflowId: stream.workflowId,
      taskQueue: TASK_QUEUE,
      args: [input],
    });
  }
  const named = (name: string) => calls.filter((call) => call.name === name);
  const progress = (handle: { query: (q: typeof progressQuery) => Promise<StreamProgress> }) =>
    handle.query(progressQuery);

  test('a stream blocked by a failure an operator can fix waits, shows why, and carries on at resume', async () => {
    let attempts = 0;
    stubs.openStream = async () => {
      if (attempts++ === 0) throw ApplicationFailure.nonRetryable('S3 answered NoSuchBucket', 'BucketMissing');
      return { completed: null, reusableChunks: 0, revision: 1 };
    };
    stubs.followFile = completingFollow(250, 0);
    const handle = await start({ size: 250, mtimeMs: 0 });
    await waitUntil(async () => (await progress(handle)).status === 'blocked');
    assert.deepEqual((await progress(handle)).blockedBy, {
      type: 'BucketMissing',
      message: 'S3 answered NoSuchBucket',
    });
    await handle.signal(resumeSignal);
    const summary = await handle.result();
    assert.equal(summary.status, 'complete');
    assert.equal(named('openStream').length, 2, 'retried from its checkpoint once resumed');
    recordHistory(handle, env.address, 'branch-blocked-then-resumed');
  });

  test('a pause cancels the running follow, and a resume follows the file again', async () => {
    let follows = 0;
    const complete = completingFollow(250, 0);
    stubs.followFile = async (input: FollowFileInput) => (follows++ === 0 ? untilCancelled() : complete(input));
    const handle = await start({ size: 250, mtimeMs: 0 });
    await waitUntil(() => follows === 1);
    await handle.signal(pauseSignal);
    await waitUntil(async () => (await progress(handle)).status === 'paused');
    assert.equal(follows, 1, 'nothing is followed while paused');
    await handle.signal(resumeSignal);
    assert.equal((await handle.result()).status, 'complete');
    assert.equal(follows, 2);
    recordHistory(handle, env.address, 'branch-paused-then-resumed');
  });

  test('a file that shrank under uploaded chunks is followed again from the last intact chunk', async () => {
    let follows = 0;
    const complete = completingFollow(420, 0);
    stubs.followFile = async (input: FollowFileInput): Promise<FollowFileResult> => {
      if (follows++ > 0) return complete(input);
      // Six chunks up, then the recorder cut the file to 250 bytes: chunks 2 to 5 are gone.
      return { records: [0, 1, 2, 3, 4, 5].map(record), observation: present(250, 0), end: 'shrank' };
    };
    const handle = await start({ size: 600, mtimeMs: 0 });
    const summary = await handle.result();
    const [, second] = named('followFile').map((call) => call.input as FollowFileInput);
    assert.equal(second.nextIndex, 2, 'the next follow starts at the first chunk past the new end');
    assert.equal(summary.status, 'complete');
    assert.equal(summary.rewrittenChunks, 4, 'the dropped chunks count as rewritten');
    recordHistory(handle, env.address, 'branch-shrank');
  });

  test('a long stream continues as new, its uploaded chunks and pending records carried', async () => {
    let follows = 0;
    const complete = completingFollow(3_000, 0);
    stubs.followFile = async (input: FollowFileInput): Promise<FollowFileResult> => {
      if (follows++ > 0) return complete(input);
      return { records: Array.from({ length: 16 }, (_, i) => record(i)), observation: present(3_000, 0), end: 'batch' };
    };
    // Long after the first follow, short before it: one continue-as-new between the two follows.
    const handle = await start({ size: 3_000, mtimeMs: 0 }, { maxHistoryEvents: 15 });
    const summary = await handle.result();
    assert.equal(summary.status, 'complete');
    assert.equal(summary.chunkCount, 30);
    const manifests = named('writeManifest').map((call) => call.input as WriteManifestInput);
    assert.deepEqual(
      manifests.map((input) => [input.status, input.chunkCount]),
      [['recording', 16]],
      'the records are flushed to the manifest on the way',
    );
    const [, second] = named('followFile').map((call) => call.input as FollowFileInput);
    assert.equal(second.nextIndex, 16, 'the new run carries on where the old one stopped');
    assert.notEqual((await handle.describe()).runId, handle.firstExecutionRunId);
    recordHistory(handle, env.address, 'branch-continued-as-new');
    recordHistory(handle, env.address, 'branch-continued-as-new-first-run', handle.firstExecutionRunId);
  });

  test('a cancel during the final check waits for it to stop, then writes a cancelled manifest', async () => {
    // The follow could not complete the stream (its mtime was never settled): the workflow checks.
    stubs.followFile = async (input: FollowFileInput): Promise<FollowFileResult> => ({
      records: [0, 1].map((i) => record(input.nextIndex + i)),
      observation: present(250, 0),
      end: 'quiet',
    });
    stubs.observeStreamFile = async () => present(250, 0);
    let checking = false;
    stubs.verifyChunks = async () => {
      checking = true;
      return untilCancelled();
    };
    const handle = await start({ size: 250, mtimeMs: 0 });
    await waitUntil(() => checking);
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    const last = named('writeManifest').at(-1)?.input as WriteManifestInput;
    assert.deepEqual([last.status, last.chunkCount], ['cancelled', 2], 'the manifest lists exactly what went up');
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    recordHistory(handle, env.address, 'branch-cancelled-during-check');
  });

  test('when no follow runs, the durable timer ends the stream once the file has been idle for the idle timeout', async () => {
    const startedAt = Date.now();
    // A follow ended as the worker shut down: nothing follows the file until the timer fires.
    stubs.followFile = async (): Promise<FollowFileResult> => ({
      records: [],
      observation: present(50, startedAt),
      end: 'stopping',
    });
    stubs.observeStreamFile = async () => present(50, startedAt);
    stubs.verifyChunks = async () => ({ changed: [], fileSize: 50, mtimeMs: startedAt, read: 0 });
    stubs.uploadChunks = async () => [{ ...record(0), size: 50 }];
    stubs.inspectFile = async () => ({ observation: present(50, startedAt), durationSeconds: 1.5 });
    const handle = await start({ size: 50, mtimeMs: startedAt }, { idleTimeoutMs: 2_000 });
    const summary = await handle.result();
    assert.equal(summary.status, 'complete');
    assert.equal(summary.durationSeconds, 1.5);
    assert.ok(Date.now() - startedAt >= 2_000, 'not before the idle timeout');
    assert.deepEqual(
      calls.map((call) => call.name),
      ['openStream', 'followFile', 'observeStreamFile', 'verifyChunks', 'uploadChunks', 'inspectFile', 'writeManifest'],
    );
    recordHistory(handle, env.address, 'branch-durable-timer');
  });

  test('a pause whose follow never hears of it (its worker died) leaves the stream paused, and a resume carries on', async () => {
    let follows = 0;
    const complete = completingFollow(250, 0);
    const dead = deadWorker();
    stubs.followFile = async (input: FollowFileInput) => (follows++ === 0 ? dead.activity() : complete(input));
    try {
      const handle = await start({ size: 250, mtimeMs: 0 });
      await waitUntil(() => follows === 1);
      await handle.signal(pauseSignal);
      // Temporal times the follow out after its heartbeat timeout, and does not retry it: a cancel was asked.
      await waitUntil(async () => (await progress(handle)).status === 'paused', 60_000);
      await handle.signal(resumeSignal);
      assert.equal((await handle.result()).status, 'complete');
      assert.equal(follows, 2);
      recordHistory(handle, env.address, 'branch-paused-follow-timed-out');
    } finally {
      dead.release();
    }
  });

  test('a resume that comes before the paused follow has stopped carries on following the file', async () => {
    let follows = 0;
    let cancelHeard = false;
    let letItStop = () => undefined as void;
    const stopped = new Promise<void>((resolve) => (letItStop = resolve));
    const complete = completingFollow(250, 0);
    stubs.followFile = async (input: FollowFileInput) => {
      if (follows++ > 0) return complete(input);
      try {
        return await untilCancelled();
      } catch (err) {
        // A follow takes a moment to stop (a chunk in flight, the live manifest to write).
        cancelHeard = true;
        await stopped;
        throw err;
      }
    };
    const handle = await start({ size: 250, mtimeMs: 0 });
    await waitUntil(() => follows === 1);
    await handle.signal(pauseSignal);
    await waitUntil(() => cancelHeard);
    await handle.signal(resumeSignal);
    await waitUntil(async () => {
      // The workflow has taken the resume in (a task completed after it) before the follow stops.
      const events = (await handle.fetchHistory()).events ?? [];
      const resumed = events
        .map((event) => event.workflowExecutionSignaledEventAttributes?.signalName)
        .lastIndexOf('resume');
      return resumed >= 0 && events.slice(resumed).some((event) => event.workflowTaskCompletedEventAttributes);
    });
    letItStop();
    assert.equal((await handle.result()).status, 'complete', 'neither cancelled nor failed');
    assert.equal(follows, 2);
    recordHistory(handle, env.address, 'branch-resumed-before-follow-stopped');
  });

  test('a cancel whose final check never hears of it (its worker died) still ends the stream cancelled, with its manifest', async () => {
    // The follow could not complete the stream (its mtime was never settled): the workflow checks.
    stubs.followFile = async (input: FollowFileInput): Promise<FollowFileResult> => ({
      records: [0, 1].map((i) => record(input.nextIndex + i)),
      observation: present(250, 0),
      end: 'quiet',
    });
    stubs.observeStreamFile = async () => present(250, 0);
    const dead = deadWorker();
    let checks = 0;
    stubs.verifyChunks = async () => {
      checks++;
      return dead.activity();
    };
    try {
      const handle = await start({ size: 250, mtimeMs: 0 });
      await waitUntil(() => checks === 1);
      await handle.cancel();
      await assert.rejects(handle.result(), WorkflowFailedError);
      assert.equal((await handle.describe()).status.name, 'CANCELLED', 'cancelled, not failed');
      const last = named('writeManifest').at(-1)?.input as WriteManifestInput;
      assert.deepEqual([last?.status, last?.chunkCount], ['cancelled', 2]);
      recordHistory(handle, env.address, 'branch-cancelled-check-timed-out');
    } finally {
      dead.release();
    }
  });

  test('AFTER_UPLOAD=delete deletes the file of a complete stream, and the result says when', async () => {
    stubs.followFile = completingFollow(250, 0);
    stubs.deleteLocalFile = async () => ({ outcome: 'deleted', deletedAt: '2026-12-01T00:00:01.000Z', bytes: 250 });
    const handle = await start({ size: 250, mtimeMs: 0 }, { deleteAfterUpload: true });
    const summary = await handle.result();
    assert.equal(summary.status, 'complete');
    assert.deepEqual(summary.localFile, { deletedAt: '2026-12-01T00:00:01.000Z' });
    assert.deepEqual(
      named('deleteLocalFile').map((call) => (call.input as { revision: number }).revision),
      [1],
    );
    recordHistory(handle, env.address, 'branch-deleted-after-upload');
  });

  test('AFTER_UPLOAD=delete: a file the deletion keeps (it changed, or a chunk is not in the bucket) leaves the stream complete', async () => {
    stubs.followFile = completingFollow(250, 0);
    stubs.deleteLocalFile = async () => ({ outcome: 'kept', reason: 'the file changed after its complete manifest' });
    const handle = await start({ size: 250, mtimeMs: 0 }, { deleteAfterUpload: true });
    const summary = await handle.result();
    assert.equal(summary.status, 'complete');
    assert.equal(summary.localFile, undefined);
  });

  // The branches below complete the set the replay test requires (see REQUIRED_HISTORIES there).

  /** The running activity's own stream, as the test's client sees it: to signal it mid-activity. */
  const ownStream = () => env.client.workflow.getHandle(Context.current().info.workflowExecution!.workflowId);

  test('a follow that completes a file written to meanwhile carries on in a new revision', async () => {
    let follows = 0;
    const first = completingFollow(250, 0);
    const second = completingFollow(300, 5);
    stubs.followFile = async (input: FollowFileInput) => {
      if (follows++ > 0) return second(input);
      // The recorder wrote again as the follow completed the stream: the watcher's signal comes first.
      await ownStream().signal(fileChangedSignal, { size: 300, mtimeMs: 5 });
      return first(input);
    };
    const handle = await start({ size: 250, mtimeMs: 0 });
    const summary = await handle.result();
    assert.deepEqual([summary.status, summary.revision, summary.totalSize], ['complete', 2, 300]);
    recordHistory(handle, env.address, 'branch-new-revision-after-complete');
  });

  test('a chunk the recorder cut short while it was being uploaded makes the stream re-plan from the file', async () => {
    const mtimeMs = Date.now();
    let uploads = 0;
    stubs.uploadChunks = async (input: { ranges: { index: number }[] }) => {
      if (uploads++ === 0) throw ApplicationFailure.nonRetryable('file shorter than the chunk', 'FileTruncated');
      return input.ranges.map(({ index }) => record(index));
    };
    stubs.observeStreamFile = async () => present(150, mtimeMs);
    stubs.followFile = completingFollow(150, mtimeMs);
    // A live file: its full chunks go up before the follow starts.
    const handle = await start({ size: 250, mtimeMs });
    assert.equal((await handle.result()).status, 'complete');
    assert.equal(named('observeStreamFile').length, 1, 're-planned from a look at the file');
    const [follow] = named('followFile').map((call) => call.input as FollowFileInput);
    assert.equal(follow.nextIndex, 0, 'nothing of the cut chunks counts as uploaded');
    recordHistory(handle, env.address, 'branch-replanned-after-truncation');
  });

  /** A follow that found the file quiet but could not complete it: the workflow finalizes. */
  function quietFollow(size: number) {
    return async (input: FollowFileInput): Promise<FollowFileResult> => ({
      records: Array.from({ length: Math.floor(size / CHUNK_SIZE) - input.nextIndex }, (_, i) =>
        record(input.nextIndex + i),
      ),
      observation: present(size, 0),
      end: 'quiet',
    });
  }

  test('a pause during the final check abandons the finalize; a resume finalizes again', async () => {
    stubs.followFile = quietFollow(250);
    stubs.observeStreamFile = async () => present(250, 0);
    let checks = 0;
    stubs.verifyChunks = async () => {
      if (checks++ === 0) await ownStream().signal(pauseSignal);
      return { changed: [], fileSize: 250, mtimeMs: 0, read: 0 };
    };
    stubs.uploadChunks = async () => [{ ...record(2), size: 50 }];
    stubs.inspectFile = async () => ({ observation: present(250, 0), durationSeconds: null });
    const handle = await start({ size: 250, mtimeMs: 0 });
    await waitUntil(async () => (await progress(handle)).status === 'paused');
    assert.equal(named('writeManifest').length, 0, 'nothing completed while paused');
    await handle.signal(resumeSignal);
    assert.equal((await handle.result()).status, 'complete');
    assert.equal(checks, 2);
    recordHistory(handle, env.address, 'branch-finalize-abandoned-for-pause');
  });

  test('a file written to during the final check abandons the finalize; the stream follows it again', async () => {
    let follows = 0;
    const complete = completingFollow(300, 5);
    stubs.followFile = async (input: FollowFileInput) => (follows++ === 0 ? quietFollow(250)(input) : complete(input));
    stubs.observeStreamFile = async () => present(250, 0);
    stubs.verifyChunks = async () => {
      await ownStream().signal(fileChangedSignal, { size: 300, mtimeMs: 5 });
      return { changed: [], fileSize: 250, mtimeMs: 0, read: 0 };
    };
    stubs.uploadChunks = async () => [{ ...record(2), size: 50 }];
    stubs.inspectFile = async () => ({ observation: present(250, 0), durationSeconds: null });
    const handle = await start({ size: 250, mtimeMs: 0 });
    assert.equal((await handle.result()).status, 'complete');
    assert.equal(follows, 2, 'followed again');
    assert.deepEqual(
      named('writeManifest').filter((call) => (call.input as WriteManifestInput).status === 'complete'),
      [],
      'the finalize wrote no complete manifest: the follow completed the stream',
    );
    recordHistory(handle, env.address, 'branch-finalize-abandoned-for-change');
  });

  test('a follow blocked by a failure an operator can fix waits for resume, then follows again', async () => {
    let follows = 0;
    const complete = completingFollow(250, 0);
    stubs.followFile = async (input: FollowFileInput) => {
      if (follows++ === 0) throw ApplicationFailure.nonRetryable('S3 answered AccessDenied', 'AccessDenied');
      return complete(input);
    };
    const handle = await start({ size: 250, mtimeMs: 0 });
    await waitUntil(async () => (await progress(handle)).status === 'blocked');
    await handle.signal(resumeSignal);
    assert.equal((await handle.result()).status, 'complete');
    recordHistory(handle, env.address, 'branch-follow-blocked-then-resumed');
  });

  test('a stream cancelled while paused writes a cancelled manifest', async () => {
    stubs.followFile = () => untilCancelled();
    const handle = await start({ size: 250, mtimeMs: 0 });
    await waitUntil(() => named('followFile').length === 1);
    await handle.signal(pauseSignal);
    await waitUntil(async () => (await progress(handle)).status === 'paused');
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    assert.equal((named('writeManifest').at(-1)?.input as WriteManifestInput).status, 'cancelled');
    recordHistory(handle, env.address, 'branch-cancelled-while-paused');
  });

  test('a stream cancelled while blocked writes a cancelled manifest', async () => {
    stubs.openStream = async () => {
      throw ApplicationFailure.nonRetryable('S3 answered NoSuchBucket', 'BucketMissing');
    };
    const handle = await start({ size: 250, mtimeMs: 0 });
    await waitUntil(async () => (await progress(handle)).status === 'blocked');
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    assert.equal((named('writeManifest').at(-1)?.input as WriteManifestInput).status, 'cancelled');
    recordHistory(handle, env.address, 'branch-cancelled-while-blocked');
  });

  test('a stream paused before its first follow waits, then follows the file at resume', async () => {
    stubs.followFile = completingFollow(250, 0);
    const stream = streamRef(`cam/branch-${++id}.mp4`, { ino: id, birthtimeMs: 1 }, 'p');
    const handle = await env.client.workflow.signalWithStart(StreamUploadWorkflow, {
      workflowId: stream.workflowId,
      taskQueue: TASK_QUEUE,
      args: [
        {
          stream,
          chunkSize: CHUNK_SIZE,
          idleTimeoutMs: 5_000,
          file: { size: 250, mtimeMs: 0 },
          fileTaskQueue: TASK_QUEUE,
        },
      ],
      signal: pauseSignal,
      signalArgs: [],
    });
    await waitUntil(async () => (await progress(handle)).status === 'paused');
    assert.equal(named('followFile').length, 0);
    await handle.signal(resumeSignal);
    assert.equal((await handle.result()).status, 'complete');
    recordHistory(handle, env.address, 'branch-paused-before-follow');
  });

  test('a stream whose history is long before its first follow continues as new first', async () => {
    stubs.followFile = completingFollow(250, 0);
    const handle = await start({ size: 250, mtimeMs: 0 }, { maxHistoryEvents: 5 });
    assert.equal((await handle.result()).status, 'complete');
    assert.deepEqual(
      named('writeManifest').map((call) => (call.input as WriteManifestInput).status),
      ['recording'],
      'the live manifest is flushed before continuing as new',
    );
    recordHistory(handle, env.address, 'branch-continued-as-new-before-follow', handle.firstExecutionRunId);
  });

  test('the completion webhook is called after a follow completed the stream', async () => {
    stubs.followFile = completingFollow(250, 0);
    stubs.notifyCompletion = async () => undefined;
    const handle = await start({ size: 250, mtimeMs: 0 }, { notifyCompletion: true });
    const summary = await handle.result();
    assert.deepEqual(summary.completionWebhook, { delivered: true });
    assert.equal(named('notifyCompletion').length, 1);
    recordHistory(handle, env.address, 'branch-webhook-after-follow');
  });

  test('a cancel that reaches a final check as it finds the file deleted ends the stream cancelled, with its manifest', async () => {
    stubs.followFile = quietFollow(250);
    stubs.observeStreamFile = async () => present(250, 0);
    let cancelHeard = false;
    stubs.verifyChunks = async () => {
      await untilCancelled().catch(() => undefined);
      cancelHeard = true;
      // The check found the file gone as the cancel reached it, and fails with that instead.
      throw ApplicationFailure.nonRetryable('cam/branch.mp4 was deleted', 'FileGone');
    };
    const handle = await start({ size: 250, mtimeMs: 0 });
    await waitUntil(() => named('verifyChunks').length === 1);
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    assert.ok(cancelHeard);
    const last = named('writeManifest').at(-1)?.input as WriteManifestInput | undefined;
    assert.equal(last?.status, 'cancelled', 'a manifest is written: the cancel does not stop that activity');
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    recordHistory(handle, env.address, 'branch-check-failed-while-cancelled');
  });
});
