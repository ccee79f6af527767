import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { FileSnapshot, StreamProgress } from '../stream/types';

/** Sent by the watcher whenever the file changes: its newest size and modification time. */
export const fileChangedSignal = defineSignal<[FileSnapshot]>('fileChanged');

export const progressQuery = defineQuery<StreamProgress>('progress');

export const STREAM_UPLOAD_WORKFLOW = 'StreamUploadWorkflow';
