import { ActivityFailure, isCancellation, log } from '@temporalio/workflow';
import { sameSnapshot } from '../stream/file-change';
import type { CompletionWebhookOutcome, ManifestSummary } from '../stream/manifest';
import type { FileSnapshot, StreamRef, StreamUploadState } from '../stream/types';
import type { StreamActivityProxies } from './stream-activities';
import type { StreamControl } from './stream-control';

/**
 * What follows a complete manifest: the stream is complete and its consumer told, or, when the
 * file was written to meanwhile, the recording goes on in a new revision.
 */
export class StreamCompletion {
  /** Why the completion webhook was not delivered, once it was given up. */
  webhookFailure?: string;

  /** @param notify whether a completion webhook is configured */
  constructor(
    private readonly state: StreamUploadState,
    private readonly stream: StreamRef,
    private readonly notify: boolean,
    private readonly control: StreamControl,
    private readonly activities: StreamActivityProxies['webhook'],
  ) {}

  /** The complete manifest of `file` is written: the stream is complete, unless the file changed since. */
  async announce(summary: ManifestSummary, file: FileSnapshot): Promise<ManifestSummary> {
    if (!sameSnapshot(this.state.file, file)) return summary;
    this.control.setPhase('complete');
    if (!this.notify) return summary;
    return { ...summary, completionWebhook: await this.notifyConsumer() };
  }

  /**
   * Written to while the complete manifest was being written: the recording goes on, and its next
   * complete manifest supersedes this one (a signal is never dropped by completing).
   */
  carryOn(summary: ManifestSummary): void {
    const { state } = this;
    log.info('file changed as the stream completed: carrying on in a new revision', this.logMeta());
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
        ...this.logMeta(),
        reason: cause.message,
      });
      this.control.showDetails();
      return { delivered: false, error: cause.message };
    }
  }

  private logMeta() {
    return { streamId: this.stream.streamId };
  }
}
