import { log } from '@temporalio/activity';
import { summarize, type ManifestSummary } from '../stream/manifest';
import type { WriteManifestInput } from '../stream/types';
import { streamLogFields, type ActivityDeps } from './activity-deps';
import { deleteChunksFrom, saveManifest } from './manifest-store';

/**
 * Writes the manifest: the stored records of chunks [0, chunkCount), overlaid by the pending ones.
 * A final manifest first removes the chunks past its end (those of a file that shrank).
 */
export async function writeManifest(
  { s3, bucket, metrics }: ActivityDeps,
  { chunkCount, pendingChunks, idleTimeoutMs, ...fields }: WriteManifestInput,
): Promise<ManifestSummary> {
  const store = { s3, bucket };
  if (fields.status !== 'recording') {
    const removed = await deleteChunksFrom(store, fields.stream.prefix, chunkCount);
    if (removed > 0) {
      log.info('removed chunks past the end of the shrunk file', { ...streamLogFields(fields.stream), removed });
    }
  }
  const { manifest, bytesWritten } = await saveManifest(store, fields, pendingChunks, chunkCount);
  metrics.manifestBytes.inc(bytesWritten);
  if (manifest.status !== 'recording') metrics.streamsFinished.inc({ status: manifest.status });
  if (manifest.status === 'complete') {
    metrics.finalizeLatency.observe(Math.max(0, Date.now() - fields.file.mtimeMs - idleTimeoutMs) / 1000);
  }
  log.info('manifest written', {
    ...streamLogFields(fields.stream),
    status: manifest.status,
    chunks: manifest.chunkCount,
    bytes: manifest.totalSize,
    manifestBytes: bytesWritten,
  });
  return summarize(manifest, fields.stream.prefix);
}
