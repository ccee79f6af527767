import { log } from '@temporalio/activity';
import { isCompleteFor, nextRevision, reusableChunks, summarize } from '../stream/manifest';
import type { OpenStreamInput, OpenStreamResult } from './activity-io';
import { type ActivityDeps } from './activity-deps';
import { streamLogFields } from '../stream/identity';
import { readChunkRecords, readManifest } from './store/manifest-store';

/**
 * A stream's start: what its stored manifest says (already complete for this file, or how many
 * chunks can be reused) and the revision its next manifest carries.
 */
export async function openStream(
  deps: ActivityDeps,
  { stream, file, chunkSize, reverifyBucket }: OpenStreamInput,
): Promise<OpenStreamResult> {
  const stored = await readManifest(deps, stream.prefix);
  const revision = nextRevision(stored?.manifest ?? null);
  if (!stored) return { completed: null, reusableChunks: 0, ...revision };
  const { manifest } = stored;
  if (!reverifyBucket && isCompleteFor(manifest, file)) {
    log.info('stream already uploaded and unchanged', streamLogFields(stream));
    return { completed: summarize(manifest, stream.prefix), reusableChunks: 0, ...revision };
  }
  // `reupload` trusts no earlier record: every chunk is checked against the bucket again.
  const reusable = reverifyBucket
    ? 0
    : reusableChunks(await readChunkRecords(deps, stream.prefix, stored, 0, manifest.chunkCount), chunkSize).length;
  log.info('resuming stream from its stored manifest', {
    ...streamLogFields(stream),
    reusableChunks: reusable,
    storedStatus: manifest.status,
    revision: revision.revision,
  });
  return { completed: null, reusableChunks: reusable, ...revision };
}
