import { log } from '@temporalio/activity';
import { chunksToList, storedManifestStays, summarize, type ManifestSummary } from '../stream/manifest';
import type { WriteManifestInput } from './activity-io';
import { type ActivityDeps } from './activity-deps';
import { streamLogFields } from '../stream/identity';
import { deleteUnlisted, readManifest, saveManifest } from './store/manifest-store';

const KEPT_BECAUSE = {
  unopened: 'the run ended before it opened the stream: the manifest in the bucket stays',
  completed: 'the stream completed in this revision: its complete manifest stays',
  'later revision': 'a later revision is in the bucket: its manifest stays',
} as const;

/**
 * Writes the manifest: the stored records of the chunks it lists (see `chunksToList`), overlaid by
 * the pending ones. A final one then removes what no manifest lists, after it is written: a crash
 * in between leaves extra objects, never a manifest listing a deleted chunk. That is what lies
 * past its end, since it lists at least as many chunks as the one before it (which listed at
 * least as many as its own predecessor, back to the last complete one, which removed the rest);
 * a complete one also removes the earlier bytes of the chunks it lists.
 */
export async function writeManifest(
  { s3, bucket, metrics }: ActivityDeps,
  { chunkCount, pendingChunks, idleTimeoutMs, unopened, ...fields }: WriteManifestInput,
): Promise<ManifestSummary> {
  const store = { s3, bucket };
  const { prefix } = fields.stream;
  const stored = await readManifest(store, prefix);
  const stays = unopened ? 'unopened' : storedManifestStays(fields, stored?.manifest);
  if (stored && stays) {
    log.info(KEPT_BECAUSE[stays], {
      ...streamLogFields(fields.stream),
      status: fields.status,
      revision: fields.revision,
      storedRevision: stored.manifest.revision,
    });
    return summarize(stored.manifest, prefix);
  }
  const listed = chunksToList(fields, chunkCount, pendingChunks, stored?.manifest);
  const { manifest, bytesWritten } = await saveManifest(store, fields, listed.pending, listed.count, stored);
  const extendsStored = manifest.chunkCount >= (stored?.manifest.chunkCount ?? 0);
  if (manifest.status === 'complete' || (manifest.status !== 'recording' && extendsStored)) {
    const removed = await deleteUnlisted(store, prefix, manifest, manifest.status === 'complete');
    if (removed > 0)
      log.info('removed chunks the final manifest does not list', { ...streamLogFields(fields.stream), removed });
  }
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
  return summarize(manifest, prefix);
}
