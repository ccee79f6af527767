import { log } from '@temporalio/workflow';
import { batchChunks, chunkCount, chunkRange, intactFullChunks } from '../stream/chunk-plan';
import { sameSnapshot } from '../stream/file-change';
import type { ManifestSummary } from '../stream/manifest';
import type { FileSnapshot } from '../stream/types';
import type { StreamChunks } from './stream-chunks';
import { snapshotOf, type StreamContext } from './stream-context';
import { streamLogFields } from '../stream/identity';

/**
 * Completes a stream whose file is idle, when no follow did: makes the bucket hold the file as it
 * is now (the chunks checked against it, the rewritten and the missing ones uploaded, the tail
 * too), then writes the complete manifest. Returns null when the file changed meanwhile (or the
 * stream was paused): the stream goes on.
 */
export async function finalizeStream(
  ctx: StreamContext,
  chunks: StreamChunks,
  before: FileSnapshot,
): Promise<ManifestSummary | null> {
  const { state, input, transfers, control } = ctx;
  const { stream, chunkSize } = input;
  const verified = await control.unblocked(() =>
    transfers.verifyChunks({
      stream,
      chunkCount: state.nextIndex,
      pendingChunks: state.pendingChunks,
      checked: state.checked,
    }),
  );
  state.rewrittenChunks += verified.changed.length;
  state.nextIndex = intactFullChunks(state.nextIndex, chunkSize, verified.fileSize);
  const rewritten = verified.changed
    .filter((changed) => changed < state.nextIndex)
    .map((index) => chunkRange(index, chunkSize, verified.fileSize));
  const batch = batchChunks(chunkSize);
  for (let first = 0; first < rewritten.length; first += batch) {
    if (!(await chunks.uploadBatch(rewritten.slice(first, first + batch)))) return null;
  }
  ctx.learn({ ...before, size: verified.fileSize });
  await chunks.uploadFull();
  // A backlog stopped between batches because the history is long: continue as new first.
  if (chunks.next().length > 0) return null;
  const count = chunkCount(chunkSize, verified.fileSize);
  if (state.paused) return null;
  if (
    count > state.nextIndex &&
    !(await chunks.uploadBatch([chunkRange(state.nextIndex, chunkSize, verified.fileSize)]))
  )
    return null;

  const { observation, durationSeconds } = await control.unblocked(() => transfers.inspectFile({ stream }));
  ctx.learn(snapshotOf(observation, stream.relPath));
  const assembled =
    input.assemble && sameSnapshot(state.file, before)
      ? await control.unblocked(() =>
          transfers.assembleRecording({
            stream,
            chunkSize,
            fileSize: verified.fileSize,
            pendingChunks: state.pendingChunks,
          }),
        )
      : undefined;
  // Any change since `before`, seen by the last stat or signalled meanwhile: the stream goes on.
  if (!sameSnapshot(state.file, before)) {
    log.info('file changed while the stream was being finalized: carrying on', streamLogFields(ctx.input.stream));
    return null;
  }
  // The manifest describes the file that was checked, even if a signal arrives meanwhile.
  return ctx.completion.announce(
    await ctx.manifest.record('complete', count, { durationSeconds, assembled }, before),
    before,
  );
}
