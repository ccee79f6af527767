import type { StreamRef } from '../stream/types';
import type {
  FollowFileInput,
  OpenStreamInput,
  UploadChunksActivityInput,
  VerifyChunksInput,
  WriteManifestInput,
} from './activity-io';
import type { ActivityDeps } from './activity-deps';
import { assembleRecording, type AssembleInput } from './assemble-recording';
import { streamActivityWrapper } from './classified';
import { notifyCompletion } from './notify-completion';
import { deleteLocalFile } from './delete-local-file';
import { followFile } from './follow-file';
import { withHeartbeat } from './heartbeat';
import { inspectFile } from './inspect-file';
import { openStream } from './open-stream';
import { observeStreamFile } from './observe-stream-file';
import { uploadChunks } from './upload-chunks';
import { verifyChunks } from './verify-chunks';
import { writeManifest } from './write-manifest';

export type { ActivityDeps } from './activity-deps';

/**
 * The stream activities, bound to their dependencies (as Temporal's samples do it). Each lives in
 * its own module; here every one goes through `streamActivityWrapper`, which checks the stream's names
 * and marks the errors retrying cannot heal as non-retryable.
 */
export function createActivities(deps: ActivityDeps) {
  const streamActivity = streamActivityWrapper(deps.metrics, deps.s3Prefix);
  return {
    openStream: streamActivity((input: OpenStreamInput) => openStream(deps, input)),
    observeStreamFile: streamActivity((input: { stream: StreamRef }) => observeStreamFile(deps, input)),
    uploadChunks: streamActivity((input: UploadChunksActivityInput) => uploadChunks(deps, input)),
    followFile: streamActivity((input: FollowFileInput) => followFile(deps, input)),
    verifyChunks: streamActivity((input: VerifyChunksInput) => verifyChunks(deps, input)),
    inspectFile: streamActivity(({ stream }: { stream: StreamRef }) => inspectFile(deps, stream)),
    // Heartbeats, so that a worker killed mid-write is noticed in seconds, not at the timeout.
    writeManifest: streamActivity((input: WriteManifestInput) => withHeartbeat(() => writeManifest(deps, input))),
    assembleRecording: streamActivity((input: AssembleInput) => assembleRecording(deps, input)),
    notifyCompletion: streamActivity(({ stream }: { stream: StreamRef }) => notifyCompletion(deps, stream)),
    deleteLocalFile: streamActivity((input: { stream: StreamRef; revision: number }) => deleteLocalFile(deps, input)),
  };
}

export type StreamActivities = ReturnType<typeof createActivities>;
