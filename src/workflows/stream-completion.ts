import { ActivityFailure, isCancellation, log, patched } from '@temporalio/workflow';
import { sameSnapshot } from '../stream/file-change';
import type { CompletionWebhookOutcome, ManifestSummary } from '../stream/manifest';
import type { FileSnapshot, StreamRef, StreamUploadState } from '../stream/types';
import type { StreamActivityProxies } from './stream-activities';
import type { StreamControl } from './stream-control';
import { DELETE_AFTER_UPLOAD_PATCH } from './patches';
import { streamLogFields } from '../stream/identity';

/**
 * What follows a complete manifest: the stream is complete and its consumer told, or, when the
 * file was written to meanwhile, the recording goes on in a new revision.
 */
export class StreamCompletion {
  /** Why the completion webhook was not delivered, once it was given up. */
  webhookFailure?: string;

  /**
   * @param notify whether a completion webhook is configured
   * @param deleteAfterUpload AFTER_UPLOAD=delete
   */
  constructor(
    private readonly state: StreamUploadState,
    private readonly stream: StreamRef,
    private readonly notify: boolean,
    private readonly deleteAfterUpload: boolean,
    private readonly control: StreamControl,
    private readonly activities: StreamActivityProxies['webhook'] & StreamActivityProxies['cleanup'],
  ) {}

  /** The complete manifest of `file` is written: the stream is complete, unless the file changed since. */
  async announce(summary: ManifestSummary, file: FileSnapshot): Promise<ManifestSummary> {
    if (!sameSnapshot(this.state.file, file)) return summary;
    this.control.setPhase('complete');
    const deleted = await this.deleteFile(summary);
    const complete = deleted ? { ...summary, localFile: { deletedAt: deleted } } : summary;
    if (!this.notify) return complete;
    return { ...complete, completionWebhook: await this.notifyConsumer() };
  }

  /**
   * AFTER_UPLOAD=delete: the file goes once its chunks are checked in the bucket, unless an
   * operator paused the stream. Returns when it went; undefined when it stays, the reason logged.
   */
  private async deleteFile(summary: ManifestSummary): Promise<string | undefined> {
    if (!this.deleteAfterUpload || this.control.isPaused || !patched(DELETE_AFTER_UPLOAD_PATCH)) return undefined;
    let reason: string;
    try {
      const deletion = await this.activities.deleteLocalFile({ stream: this.stream, revision: summary.revision });
      if (deletion.outcome === 'deleted') return deletion.deletedAt;
      reason = deletion.reason;
    } catch (err) {
      // The stream is complete whatever becomes of its file.
      if (isCancellation(err)) throw err;
      reason = (err instanceof ActivityFailure && err.cause ? err.cause : (err as Error)).message;
    }
    log.warn('uploaded file kept', { ...streamLogFields(this.stream), reason });
    return undefined;
  }

  /**
   * Written to while the complete manifest was being written: the recording goes on, and its next
   * complete manifest supersedes this one (a signal is never dropped by completing).
   */
  carryOn(summary: ManifestSummary): void {
    const { state } = this;
    log.info('file changed as the stream completed: carrying on in a new revision', streamLogFields(this.stream));
    state.previousRevision = {
      revision: state.revision,
      status: 'complete',
      totalSize: summary.totalSize,
      completedAt: summary.completedAt,
    };
    state.revision++;
    state.rewrittenChunks = 0;
    this.control.setPhase('recording');
  }

  /**
   * Tells the consumer's webhook that the stream is complete. The stream stays complete whatever
   * the webhook answers: one that refuses, or is still down after its retries, is logged and shown
   * in the stream's details and result, and the workflow ends.
   */
  private async notifyConsumer(): Promise<CompletionWebhookOutcome> {
    try {
      await this.activities.notifyCompletion({ stream: this.stream });
      return { delivered: true };
    } catch (err) {
      if (isCancellation(err)) throw err;
      const cause = err instanceof ActivityFailure && err.cause ? err.cause : (err as Error);
      this.webhookFailure = cause.message;
      log.error('completion webhook not delivered; the stream is complete', {
        ...streamLogFields(this.stream),
        reason: cause.message,
      });
      this.control.showDetails();
      return { delivered: false, error: cause.message };
    }
  }
}
