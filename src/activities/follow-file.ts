import { chunkRange } from '../stream/chunk-plan';
import { sameSnapshot } from '../stream/file-change';
import { FOLLOW_MAX_POLL_MS, FOLLOW_POLL_MS, followBatchChunks, MAX_FOLLOW_MS } from '../stream/follow-plan';
import type { ManifestSummary } from '../stream/manifest';
import { settledMtime } from '../stream/settled-chunks';
import type {
  ChunkRange,
  ChunkRecord,
  ChunksChecked,
  FileObservation,
  FileSnapshot,
  FollowProgress,
} from '../stream/types';
import type { FollowFileInput } from './activity-io';
import type { ActivityDeps } from './activity-deps';
import { runFollow, type FollowCheck, type FollowFileResult, type FollowIo } from './follow-loop';
import { withHeartbeat } from './heartbeat';
import { mediaDuration } from './inspect-file';
import { observeFile, observeResolved, resolveInWatchDir } from './file/stream-file';
import { uploadRanges } from './upload-chunks';
import { checkChunks } from './verify-chunks';
import { writeManifest } from './write-manifest';

type Upload = FollowIo['upload'];

/** The file's size and mtime, if the observation found it. */
function presentSnapshot(observation: FileObservation): FileSnapshot | undefined {
  return observation.status === 'present' ? { size: observation.size, mtimeMs: observation.mtimeMs } : undefined;
}

/**
 * Follows a growing file (see `runFollow`), heartbeating its progress. While it runs the watcher
 * leaves the file to it, and takes it up again from the follow's last look.
 */
export async function followFile(deps: ActivityDeps, input: FollowFileInput): Promise<FollowFileResult> {
  const { stream, chunkSize, nextIndex, settleMs, manifestIntervalMs, checked } = input;
  const release = deps.followed.follow(stream);
  let next = nextIndex;
  let last: FileObservation | undefined;
  try {
    const result = await withHeartbeat(
      (signal) =>
        runFollow(
          followIo(deps, input, signal),
          {
            firstIndex: nextIndex,
            chunkSize,
            idleTimeoutMs: settleMs,
            maxChunks: followBatchChunks(chunkSize),
            maxMs: MAX_FOLLOW_MS,
            pollMs: FOLLOW_POLL_MS,
            maxPollMs: FOLLOW_MAX_POLL_MS,
            manifestIntervalMs,
            checked,
            signal,
            stopSignal: deps.followed.stopSignal,
          },
          (index) => (next = index),
        ),
      () => ({ nextIndex: next, uploadedBytes: next * chunkSize }),
    );
    last = result.observation;
    return result;
  } finally {
    const snapshot = last && presentSnapshot(last);
    release(snapshot && { identity: stream.identity, snapshot });
  }
}

/** A follow's reads of the file and writes to the bucket. */
function followIo(deps: ActivityDeps, input: FollowFileInput, signal: AbortSignal): FollowIo {
  const { stream, nextIndex, concurrency, liveManifest } = input;
  let resolved: Promise<string> | undefined;
  const upload: Upload = (ranges, bytesCompleteAtMs) =>
    uploadRanges(deps, { stream, ranges, concurrency }, 'live', bytesCompleteAtMs, signal);
  return {
    observe: async () =>
      observeResolved(await (resolved ??= resolveInWatchDir(deps.watchDir, stream.relPath)), stream.identity),
    upload,
    check: ({ records, rewritten }, checked) =>
      checkQuietFile(
        deps,
        input,
        nextIndex + records.length,
        [...liveManifest.pendingChunks, ...records, ...rewritten],
        checked,
        upload,
        signal,
      ),
    complete: (progress, observation, checked) => completeIdleFile(deps, input, progress, observation, checked, upload),
    saveLiveManifest: async ({ records, rewritten }, observation) => {
      const file = presentSnapshot(observation) ?? liveManifest.file;
      await writeManifest(deps, {
        ...liveManifest,
        file,
        rewrittenChunks: liveManifest.rewrittenChunks + rewritten.length,
        chunkCount: nextIndex + records.length,
        pendingChunks: [...liveManifest.pendingChunks, ...records, ...rewritten],
      });
    },
  };
}

/**
 * A follow's check of the quiet file: compares chunks [0, count) with it, uploads again those the
 * recorder rewrote, and settles them all under the file's mtime if that mtime had settled.
 */
async function checkQuietFile(
  deps: ActivityDeps,
  { stream, chunkSize }: FollowFileInput,
  count: number,
  pendingChunks: ChunkRecord[],
  checked: ChunksChecked | undefined,
  upload: Upload,
  signal: AbortSignal,
): Promise<FollowCheck> {
  const startedAt = Date.now();
  const { changed, fileSize, mtimeMs } = await checkChunks(
    deps,
    { stream, chunkCount: count, pendingChunks, checked },
    'live',
    signal,
  );
  const ranges: ChunkRange[] = changed.map((index) => chunkRange(index, chunkSize, fileSize));
  // The file shrank under a chunk: the follow's next look ends it, and the workflow decides.
  if (ranges.some((range) => range.size < chunkSize)) return { rewritten: [], mtimeMs };
  const rewritten = ranges.length > 0 ? await upload(ranges, mtimeMs) : [];
  const settled = settledMtime(mtimeMs, startedAt);
  return { rewritten, mtimeMs, ...(settled === undefined ? {} : { checked: { count, mtimeMs: settled } }) };
}

/**
 * A follow's completion of the idle file: when its chunks were all settled under its mtime by
 * the quiet check, uploads the tail, reads the duration and, if the file is still as it was,
 * writes the complete manifest. Null when anything is left to decide (not checked under this
 * mtime, a change meanwhile; a file cut short under the tail throws, and the follow ends as
 * it would have): the workflow then finalizes the stream itself.
 */
async function completeIdleFile(
  deps: ActivityDeps,
  input: FollowFileInput,
  { records, rewritten }: FollowProgress,
  observation: FileObservation,
  checked: ChunksChecked | undefined,
  upload: Upload,
): Promise<ManifestSummary | null> {
  const { stream, chunkSize, liveManifest } = input;
  const count = input.nextIndex + records.length;
  if (!input.completeWhenIdle || observation.status !== 'present') return null;
  // With no full chunk there is nothing the recorder could have rewritten under an upload.
  if (count > 0 && (checked?.count !== count || checked.mtimeMs !== observation.mtimeMs)) return null;
  const file = { size: observation.size, mtimeMs: observation.mtimeMs };
  const tail =
    file.size > count * chunkSize ? await upload([chunkRange(count, chunkSize, file.size)], file.mtimeMs) : [];
  const durationSeconds = await mediaDuration(deps.watchDir, stream);
  const after = await observeFile(deps.watchDir, stream.relPath, stream.identity);
  if (after.status !== 'present' || !sameSnapshot(after, file)) return null;
  return writeManifest(deps, {
    ...liveManifest,
    status: 'complete',
    file,
    completedAt: new Date().toISOString(),
    durationSeconds,
    rewrittenChunks: liveManifest.rewrittenChunks + rewritten.length,
    chunkCount: count + tail.length,
    pendingChunks: [...liveManifest.pendingChunks, ...records, ...rewritten, ...tail],
  });
}
