import {
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { StreamStatusKey } from '../stream/search-attributes';
import type { StreamFailure, StreamPhase } from '../stream/types';
import { endedByCancel, failureOf } from './failure-of';
import { PAUSED_FOLLOW_ENDS_PATCH } from './patches';

/**
 * What an operator sees of a stream and does to it: its phase (a search attribute, and the
 * details on its Web UI page), pause and resume (which cancels a long activity), and blocking on a
 * failure an operator can fix.
 */
export class StreamControl {
  phase: StreamPhase = 'recording';
  /** Why the stream is blocked, while it is. */
  blockedBy?: StreamFailure;
  /** `resume` signals received by this run: each one unblocks a blocked stream. */
  private resumes = 0;

  /**
   * @param paused the stream's pause, kept in its carried state so that it survives continue-as-new
   * @param progressLines what the details show under the phase
   * @param blockingFailures failure types an operator can fix: the stream waits for `resume` on them
   */
  constructor(
    private readonly paused: { paused: boolean },
    private readonly progressLines: () => string[],
    private readonly blockingFailures: readonly string[],
    private readonly logFields: Record<string, unknown>,
  ) {}

  /** The `pause` signal. */
  pause(): void {
    this.paused.paused = true;
  }

  /** The `resume` signal: also unblocks a blocked stream. */
  resume(): void {
    this.paused.paused = false;
    this.resumes++;
  }

  get isPaused(): boolean {
    return this.paused.paused;
  }

  /** Waits while the stream is paused. */
  async whilePaused(): Promise<void> {
    if (!this.paused.paused) return;
    this.setPhase('paused');
    log.info('stream paused', this.logFields);
    await condition(() => !this.paused.paused);
    log.info('stream resumed', this.logFields);
    this.setPhase('recording');
  }

  /**
   * Runs a long activity that a pause cancels; null when it did. A cancelled stream waits for the
   * activity to stop, so that its manifest can say exactly what reached the bucket.
   */
  async unlessPaused<T>(operation: () => Promise<T>): Promise<T | null> {
    const scope = new CancellationScope();
    let settled = false;
    const running = scope.run(operation).finally(() => {
      settled = true;
    });
    running.catch(() => undefined);
    try {
      await condition(() => settled || this.paused.paused);
    } catch (err) {
      await running.catch(() => undefined);
      throw err;
    }
    const cancelledForPause = !settled;
    if (cancelledForPause) scope.cancel();
    try {
      return await running;
    } catch (err) {
      if (isCancellation(err) && this.paused.paused) return null;
      // A stream cancelled meanwhile ends as cancelled: the caller writes its manifest.
      if (
        cancelledForPause &&
        endedByCancel(err) &&
        !CancellationScope.current().consideredCancelled &&
        patched(PAUSED_FOLLOW_ENDS_PATCH)
      ) {
        return null;
      }
      throw err;
    }
  }

  /**
   * Runs an activity; when it fails for a reason an operator can fix, the stream waits in the
   * `blocked` phase (visible in the UI, the CLI and the progress query) and retries on `resume`,
   * from its last checkpoint, instead of failing and losing its state.
   */
  async unblocked<T>(operation: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await operation();
      } catch (err) {
        const failure = failureOf(err);
        if (!failure || !this.blockingFailures.includes(failure.type)) throw err;
        const resumesBefore = this.resumes;
        this.blockedBy = failure;
        this.setPhase('blocked');
        log.warn('stream blocked until an operator resumes it', { ...this.logFields, ...failure });
        await condition(() => this.resumes !== resumesBefore);
        this.blockedBy = undefined;
        this.setPhase('recording');
      }
    }
  }

  setPhase(phase: StreamPhase): void {
    if (phase === this.phase) return;
    this.phase = phase;
    upsertSearchAttributes([{ key: StreamStatusKey, value: phase }]);
    this.showDetails();
  }

  /** The live progress the Web UI shows on the workflow's page. */
  showDetails(): void {
    const blocked = this.blockedBy ? `: ${this.blockedBy.type}: ${this.blockedBy.message}` : '';
    setCurrentDetails([`**${this.phase}**${blocked}`, ...this.progressLines()].join('\n\n'));
  }
}
