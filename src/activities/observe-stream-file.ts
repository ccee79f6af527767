import type { FileObservation, StreamRef } from '../stream/types';
import type { ActivityDeps } from './activity-deps';
import { observeFile } from './file/stream-file';

/** A look at the stream's file: present with its size and mtime, missing, or replaced by another. */
export function observeStreamFile(deps: ActivityDeps, { stream }: { stream: StreamRef }): Promise<FileObservation> {
  return observeFile(deps.watchDir, stream.relPath, stream.identity);
}
