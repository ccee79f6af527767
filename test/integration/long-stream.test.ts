import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { StreamUploadState } from '../../src/stream/types';
import { progressQuery } from '../../src/workflows/definitions';
import { downloadStreamSha256, readManifestObject } from '../support/bucket';
import { sha256File } from '../support/media';
import { startStack, startStream, startWorker, tempDir, type TestStack, type TestWorker } from '../support/stack';

/**
 * A day-long recording has thousands of chunks. Its cost per chunk must not grow with its length:
 * a stream of 10,000 small chunks, its manifest written after every batch, continues as new many
 * times; the manifest bytes written per chunk and the history events per chunk stay flat, and the
 * final manifest lists every chunk, byte-exact against the file.
 */
const CHUNK_SIZE = 1024;
const CHUNKS = 10_000;
/** Far longer than the stream takes (under two minutes in a full run): a stream that never ends fails here. */
const STREAM_DEADLINE_MS = 300_000;

let stack: TestStack;
let worker: TestWorker;
let watchDir: string;

before(async () => {
  stack = await startStack();
  watchDir = tempDir('long-stream');
  worker = await startWorker(stack, {
    WATCH_DIR: watchDir,
    CHUNK_SIZE: String(CHUNK_SIZE),
    UPLOAD_CONCURRENCY: '8',
    MAX_CONCURRENT_UPLOADS: '8',
  });
});
after(async () => {
  await worker?.stop();
  await stack?.stop();
});

/** Manifest bytes written so far, and the chunks uploaded then. */
interface Sample {
  chunks: number;
  manifestBytes: number;
}

test(
  'a stream of 10,000 chunks: manifest bytes and history events per chunk stay flat, the manifest is complete and exact',
  { timeout: 600_000 },
  async (t) => {
    const file = path.join(watchDir, 'day-long.mp4');
    fs.writeFileSync(
      file,
      Buffer.from(Array.from({ length: CHUNKS * CHUNK_SIZE + 100 }, (_, i) => (i * 31 + (i >> 10)) % 256)),
    );
    // Written a while ago, as a day's recording is by the time its end goes up: every run of the
    // chain then uploads the same way (follows), and their events per chunk compare.
    const aMinuteAgo = new Date(Date.now() - 60_000);
    fs.utimesSync(file, aMinuteAgo, aMinuteAgo);
    const { handle } = await startStream(stack, worker, 'day-long.mp4', {
      idleTimeoutMs: 1_000,
      manifestIntervalMs: 0,
      maxHistoryEvents: 200,
    });

    const samples: Sample[] = [];
    const manifestBytes = async () =>
      (await worker.metrics.manifestBytes.get()).values.reduce((sum, value) => sum + value.value, 0);
    const result = handle.result();
    let done = false;
    void result.finally(() => (done = true));
    const deadline = Date.now() + STREAM_DEADLINE_MS;
    while (!done) {
      assert.ok(Date.now() < deadline, `the stream did not end within ${STREAM_DEADLINE_MS / 1000} s`);
      const chunks = await handle.query(progressQuery).then(
        (progress) => progress.chunksUploaded,
        () => null, // between two runs of the chain
      );
      if (chunks !== null) samples.push({ chunks, manifestBytes: await manifestBytes() });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const summary = await result;

    const manifest = await readManifestObject(stack.s3, stack.bucket, summary.manifestKey);
    assert.equal(manifest.status, 'complete');
    assert.equal(manifest.chunkCount, CHUNKS + 1);
    assert.equal(
      await downloadStreamSha256(stack.s3, stack.bucket, manifest),
      await sha256File(file),
      'the bucket holds the file, byte for byte',
    );

    // Manifest bytes per chunk, early in the stream and late: a manifest that lists every record
    // writes about nine times more per chunk near chunk 10,000 than near chunk 1,000.
    const perChunk = (from: Sample, to: Sample) => (to.manifestBytes - from.manifestBytes) / (to.chunks - from.chunks);
    const at = (chunks: number) => {
      const sample = samples.find((candidate) => candidate.chunks >= chunks);
      if (!sample)
        throw new Error(
          `no sample at chunk ${chunks}: ${samples.length} samples, the last at ${samples.at(-1)?.chunks}`,
        );
      return sample;
    };
    const early = perChunk(at(200), at(2_200));
    const late = perChunk(at(CHUNKS - 2_200), at(CHUNKS - 200));
    t.diagnostic(
      `manifest bytes per chunk: ${early.toFixed(0)} at chunks 200-2,200, ${late.toFixed(0)} at ${CHUNKS - 2_200}-${CHUNKS - 200}`,
    );
    assert.ok(
      late < 1.5 * early,
      `manifest bytes per chunk: ${early.toFixed(0)} near the start, ${late.toFixed(0)} near the end`,
    );

    // History events per chunk of each run of the chain, every run but the last (which completes).
    const runs: Array<{ events: number; firstChunk: number }> = [];
    for (let runId: string | undefined = handle.firstExecutionRunId; runId;) {
      const history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>> = await stack.client.workflow
        .getHandle(handle.workflowId, runId)
        .fetchHistory();
      const events = history.events ?? [];
      const input = events[0].workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
      const state = input
        ? (JSON.parse(Buffer.from(input).toString('utf8')) as { state?: StreamUploadState }).state
        : undefined;
      runs.push({ events: events.length, firstChunk: state?.nextIndex ?? 0 });
      runId = events[events.length - 1].workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    t.diagnostic(
      `${runs.length} runs; history events per chunk, run by run: ${runs
        .slice(0, -1)
        .map((run, i) => (run.events / (runs[i + 1].firstChunk - run.firstChunk)).toFixed(2))
        .join(', ')}`,
    );
    assert.ok(runs.length >= 4, `continued as new ${runs.length - 1} times`);
    const perRun = runs.slice(0, -1).map((run, i) => run.events / (runs[i + 1].firstChunk - run.firstChunk));
    assert.ok(
      Math.max(...perRun) < 1.5 * Math.min(...perRun),
      `history events per chunk, run by run: ${perRun.map((value) => value.toFixed(2)).join(', ')}`,
    );
  },
);
