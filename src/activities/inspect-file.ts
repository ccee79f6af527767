import { log } from '@temporalio/activity';
import type { FileInspection, StreamRef } from '../stream/types';
import { type ActivityDeps } from './activity-deps';
import { streamLogFields } from '../stream/identity';
import { withHeartbeat } from './heartbeat';
import { readMediaDurationSeconds } from './file/media-duration';
import { observeFile, openInWatchDir } from './file/stream-file';

/** The recording's media duration; says so when it has none. */
export async function mediaDuration(watchDir: string, stream: StreamRef): Promise<number | null> {
  // Not `openStreamFile`: a file replaced meanwhile is for the caller's next observation to find.
  const handle = await openInWatchDir(watchDir, stream.relPath);
  let durationSeconds: number | null;
  try {
    durationSeconds = await readMediaDurationSeconds(handle);
  } finally {
    await handle.close();
  }
  if (durationSeconds === null)
    log.warn('no media duration could be read: not a complete MP4 or MOV', streamLogFields(stream));
  return durationSeconds;
}

/**
 * The last look at the file before its stream is declared complete: its state (the stream goes on
 * if it changed meanwhile) and its media duration, in one round trip.
 */
export async function inspectFile({ watchDir }: ActivityDeps, stream: StreamRef): Promise<FileInspection> {
  const observation = await observeFile(watchDir, stream.relPath, stream.identity);
  if (observation.status !== 'present') return { observation, durationSeconds: null };
  // A long fragmented recording has thousands of fragments to read: heartbeat meanwhile.
  return { observation, durationSeconds: await withHeartbeat(() => mediaDuration(watchDir, stream)) };
}
