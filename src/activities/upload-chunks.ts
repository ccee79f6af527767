import { log } from '@temporalio/activity';
import type { ChunkRecord } from '../stream/types';
import type { UploadChunksActivityInput, UploadChunksInput } from './activity-io';
import { type ActivityDeps } from './activity-deps';
import { streamLogFields } from '../stream/identity';
import { withHeartbeat } from './heartbeat';
import { sendChunks } from './store/upload-chunk';
import type { UploadPriority } from './store/upload-rate';
import { writeManifest } from './write-manifest';

/**
 * Uploads chunks (see `sendChunks`), counting and logging each; `bytesCompleteAtMs` is when
 * their bytes were on disk, the start of their lag, which thus includes the time waiting for the
 * upload slots and UPLOAD_RATE_LIMIT.
 */
export function uploadRanges(
  deps: ActivityDeps,
  input: UploadChunksInput,
  priority: UploadPriority,
  bytesCompleteAtMs: number,
  signal: AbortSignal,
  onChunk?: () => void,
): Promise<ChunkRecord[]> {
  const { metrics } = deps;
  return sendChunks(deps, input, priority, signal, ({ record, sent, seconds }) => {
    onChunk?.();
    if (sent) {
      metrics.chunkUploadDuration.observe(seconds);
      metrics.chunksUploaded.inc();
      metrics.bytesUploaded.inc(record.size);
      metrics.chunkLag.observe(Math.max(0, Date.now() - bytesCompleteAtMs) / 1000);
    }
    log.info(sent ? 'chunk uploaded' : 'chunk already in the bucket', {
      ...streamLogFields(input.stream),
      chunk: record.index,
      bytes: record.size,
    });
  });
}

/**
 * The workflow's own batch of chunks, then the live manifest listing them when it asks for one.
 * These are a backlog: a growing file's chunks are the follow's (see `followFile`).
 */
export async function uploadChunks(
  deps: ActivityDeps,
  { bytesCompleteAtMs, liveManifest, ...input }: UploadChunksActivityInput,
): Promise<ChunkRecord[]> {
  let uploaded = 0;
  const records = await withHeartbeat(
    (signal) => uploadRanges(deps, input, 'backlog', bytesCompleteAtMs, signal, () => uploaded++),
    () => ({ uploaded }),
  );
  if (liveManifest) {
    await writeManifest(deps, { ...liveManifest, pendingChunks: [...liveManifest.pendingChunks, ...records] });
  }
  return records;
}
