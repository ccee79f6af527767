import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../stream/failures';
import type { FileObservation, FileSnapshot, StreamUploadInput, StreamUploadState } from '../stream/types';
import type { StreamActivityProxies } from './stream-activities';
import type { StreamCompletion } from './stream-completion';
import type { StreamControl } from './stream-control';
import type { StreamManifest } from './stream-manifest';

/** The input's optional settings, with their defaults filled in once. */
export interface StreamSettings {
  uploadConcurrency: number;
  maxHistoryEvents: number;
}

/**
 * What the parts of one stream's workflow (its chunk batches, its follows, its finalize) share:
 * the input, the one state carried across continue-as-new, the activities, the operator's view,
 * the manifest and the completion, and what each part does with a look at the file.
 */
export interface StreamContext {
  readonly input: StreamUploadInput;
  readonly state: StreamUploadState;
  readonly settings: StreamSettings;
  readonly transfers: StreamActivityProxies['transfers'];
  readonly control: StreamControl;
  readonly manifest: StreamManifest;
  readonly completion: StreamCompletion;
  /** Takes in what a signal or a stat tells of the file, unless it is older than what is known. */
  learn(snapshot: FileSnapshot): void;
  /** Observes the file; throws a failure when it is gone or is another file now. */
  observe(): Promise<FileSnapshot>;
  /** Chunks went up: the progress the operator sees moves on. */
  progressed(): void;
}

/** The file's state; a failure when it is gone or is another file now. */
export function snapshotOf(observation: FileObservation, relPath: string): FileSnapshot {
  if (observation.status === 'missing')
    throw ApplicationFailure.nonRetryable(`${relPath} was deleted`, FailureType.FileGone);
  if (observation.status === 'replaced')
    throw ApplicationFailure.nonRetryable(`${relPath} is now another file`, FailureType.FileReplaced);
  return { size: observation.size, mtimeMs: observation.mtimeMs };
}
