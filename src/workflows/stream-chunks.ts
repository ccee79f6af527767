import { log, workflowInfo } from '@temporalio/workflow';
import { batchChunks, nextFullChunks } from '../stream/chunk-plan';
import { FailureType } from '../stream/failures';
import type { ChunkRange } from '../stream/types';
import { failureOf } from './failure-of';
import type { StreamContext } from './stream-context';
import { streamLogFields } from '../stream/identity';

/** Whether this run's history is long enough to continue as new. */
export function historyIsLong(maxHistoryEvents: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > maxHistoryEvents;
}

/**
 * The chunks the workflow uploads itself, a bounded batch per activity: what a live file already
 * has on disk before its follow starts, chunks found rewritten when the stream completes, and the
 * whole stream for runs started before follows.
 */
export class StreamChunks {
  constructor(private readonly ctx: StreamContext) {}

  /** The full chunks the stream can upload next, a bounded batch of them. */
  next(): ChunkRange[] {
    const { state, input } = this.ctx;
    return nextFullChunks(state.nextIndex, input.chunkSize, state.file.size, batchChunks(input.chunkSize));
  }

  /** Uploads every full chunk on disk, batch by batch; a long backlog stops between batches when the history is long, to continue as new. */
  async uploadFull(): Promise<void> {
    const { state, manifest, settings } = this.ctx;
    for (
      let ranges = this.next();
      ranges.length > 0 && !state.paused && !historyIsLong(settings.maxHistoryEvents);
      ranges = this.next()
    ) {
      const count = state.nextIndex + ranges.length;
      if (!(await this.uploadBatch(ranges, manifest.isDue(ranges.length) ? count : undefined))) return;
      state.nextIndex = count;
    }
  }

  /**
   * Uploads chunks, and then, given `liveManifestCount`, the live manifest of that many chunks in
   * the same activity. False when the file turned out shorter than a chunk (it was rewritten):
   * the caller re-plans.
   */
  async uploadBatch(ranges: ChunkRange[], liveManifestCount?: number): Promise<boolean> {
    const { ctx } = this;
    const { state, input, manifest } = ctx;
    const liveManifest = liveManifestCount === undefined ? undefined : manifest.input('recording', liveManifestCount);
    try {
      const records = await ctx.control.unblocked(() =>
        ctx.transfers.uploadChunks({
          stream: input.stream,
          ranges,
          concurrency: ctx.settings.uploadConcurrency,
          bytesCompleteAtMs: state.file.mtimeMs,
          liveManifest,
        }),
      );
      state.pendingChunks.push(...records);
      if (liveManifestCount !== undefined) manifest.written(liveManifestCount * input.chunkSize);
    } catch (err) {
      if (failureOf(err)?.type !== FailureType.FileTruncated) throw err;
      log.warn('file shrank under a chunk being uploaded: re-planning', {
        ...streamLogFields(ctx.input.stream),
        chunks: ranges.map((range) => range.index),
      });
      ctx.learn(await ctx.observe());
      return false;
    }
    ctx.progressed();
    return true;
  }
}
