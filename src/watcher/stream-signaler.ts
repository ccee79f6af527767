import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AppConfig } from '../config';
import type { FollowedStreams } from '../followed-streams';
import type { AppLogger } from '../logger';
import { streamPathAttribute, streamRef } from '../stream/identity';
import { StreamBytesUploadedKey, StreamPathKey, StreamStatusKey } from '../stream/search-attributes';
import type { StreamUploadInput } from '../stream/types';
import { fileChangedSignal, STREAM_UPLOAD_WORKFLOW } from '../workflows/definitions';
import type { FileEvent } from './watch-directory';

/** How every stream of this app is uploaded: the parts of a workflow's input that come from config. */
export type StreamOptions = Pick<
  StreamUploadInput,
  | 'chunkSize'
  | 'idleTimeoutMs'
  | 'notifyCompletion'
  | 'assemble'
  | 'deleteAfterUpload'
  | 'fileTaskQueue'
  | 'uploadConcurrency'
>;

export function streamOptionsFrom(config: AppConfig): StreamOptions {
  return {
    chunkSize: config.chunkSize,
    idleTimeoutMs: config.streamIdleTimeoutMs,
    notifyCompletion: config.completionWebhookUrl !== undefined,
    assemble: config.assemble,
    deleteAfterUpload: config.afterUpload === 'delete',
    fileTaskQueue: config.temporal.fileTaskQueue,
    uploadConcurrency: config.uploadConcurrency,
  };
}

export interface SignalerOptions {
  client: Client;
  taskQueue: string;
  s3Prefix: string;
  streamOptions: StreamOptions;
  logger: AppLogger;
  /** Streams whose file this process follows: their growth needs no signal. */
  followed: FollowedStreams;
}

/**
 * Tells a running stream that its file has been quiet for the idle timeout, so it finalizes now
 * rather than when its durable timer fires. A stream that is not running (finished, or never
 * started) is left alone: this is a hint, never a reason to start one.
 */
export function createQuietNotifier(
  options: Pick<SignalerOptions, 'client' | 's3Prefix' | 'logger' | 'followed'>,
): (event: FileEvent) => Promise<void> {
  return async (event) => {
    const stream = streamRef(event.relPath, event.identity, options.s3Prefix);
    if (options.followed.isFollowed(stream.streamId)) return;
    try {
      await options.client.workflow.getHandle(stream.workflowId).signal(fileChangedSignal, event.snapshot);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError))
        options.logger.debug(
          { streamId: stream.streamId, workflowId: stream.workflowId, err },
          'cannot tell the stream its file is quiet',
        );
    }
  };
}

/**
 * Tells a file's workflow about the file, starting the workflow when none runs. A finished
 * stream's id may be started again (the new run finds its manifest complete and uploads nothing
 * unless the file changed). Returns false when Temporal could not be reached.
 */
export function createStreamSignaler(options: SignalerOptions): (event: FileEvent) => Promise<boolean> {
  const { client, logger } = options;
  return async (event) => {
    const stream = streamRef(event.relPath, event.identity, options.s3Prefix);
    if (options.followed.isFollowed(stream.streamId)) {
      logger.debug(
        { streamId: stream.streamId, workflowId: stream.workflowId, size: event.snapshot.size },
        'file change not signalled: this process follows the file',
      );
      return true;
    }
    const input: StreamUploadInput = { stream, ...options.streamOptions, file: event.snapshot };
    try {
      await client.workflow.signalWithStart(STREAM_UPLOAD_WORKFLOW, {
        workflowId: stream.workflowId,
        taskQueue: options.taskQueue,
        args: [input],
        signal: fileChangedSignal,
        signalArgs: [event.snapshot],
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: `Upload ${stream.relPath}`,
        typedSearchAttributes: [
          { key: StreamPathKey, value: streamPathAttribute(stream.relPath) },
          { key: StreamStatusKey, value: 'recording' },
          { key: StreamBytesUploadedKey, value: 0 },
        ],
      });
      logger.debug(
        { streamId: stream.streamId, workflowId: stream.workflowId, size: event.snapshot.size },
        'file change signalled',
      );
      return true;
    } catch (err) {
      logger.warn(
        { streamId: stream.streamId, workflowId: stream.workflowId, err },
        'cannot signal the stream workflow; will retry',
      );
      return false;
    }
  };
}
