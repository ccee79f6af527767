import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { FileSnapshot, StreamProgress } from '../stream/types';

/** Sent by the watcher whenever the file changes: its newest size and modification time. */
export const fileChangedSignal = defineSignal<[FileSnapshot]>('fileChanged');

/** Stops uploading (the file keeps being watched) until `resume`. */
export const pauseSignal = defineSignal('pause');

/** Ends a pause, or retries a blocked stream from its last checkpoint once the fault is fixed. */
export const resumeSignal = defineSignal('resume');

export const progressQuery = defineQuery<StreamProgress>('progress');

export const STREAM_UPLOAD_WORKFLOW = 'StreamUploadWorkflow';
