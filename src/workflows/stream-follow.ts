import { log } from '@temporalio/workflow';
import { intactFullChunks } from '../stream/chunk-plan';
import type { ManifestSummary } from '../stream/manifest';
import type { FileSnapshot, FollowProgress } from '../stream/types';
import { cancelledFollowProgress } from './failure-of';
import { snapshotOf, type StreamContext } from './stream-context';
import { streamLogFields } from '../stream/identity';

/**
 * The stream's follows: long activities on the file's host that upload its full chunks as they
 * are written (see `runFollow`), and what the workflow learns from each when it ends.
 */
export class StreamFollow {
  /** When the running follow began; its chunks reach the workflow only when it ends. */
  since?: string;
  /**
   * The file's mtime when the last follow ended on the idle file, or on shutdown: the file is
   * followed again only once written since; until then the durable timer takes it from there.
   */
  endedAtMtimeMs = -1;

  constructor(private readonly ctx: StreamContext) {}

  /**
   * Follows the growing file on its host: its full chunks go up as they are written, until it is
   * idle (quiet for the idle timeout: the follow completes the stream then if it can, or else the
   * workflow does at once, with no timer to wait for), a batch is up, or the follow's time is up.
   * A pause cancels it. Returns the complete manifest the follow wrote, and the file it describes.
   */
  async run(): Promise<{ summary: ManifestSummary; file: FileSnapshot } | null> {
    const { ctx } = this;
    const { state, input, control, manifest } = ctx;
    const { chunkSize } = input;
    this.since = new Date().toISOString();
    control.showDetails();
    const result = await control.unlessPaused(() =>
      control.unblocked(() =>
        ctx.transfers
          .followFile({
            stream: input.stream,
            chunkSize,
            nextIndex: state.nextIndex,
            concurrency: ctx.settings.uploadConcurrency,
            settleMs: input.idleTimeoutMs,
            liveManifest: manifest.input('recording', state.nextIndex),
            manifestIntervalMs: manifest.intervalMs,
            checked: state.checked,
            // The whole recording as one object is composed by the workflow's own finalize.
            completeWhenIdle: !input.assemble,
          })
          .catch((err: unknown) => {
            this.keepUploadsOf(cancelledFollowProgress(err));
            throw err;
          }),
      ),
    );
    this.since = undefined;
    if (!result) return null;
    const rewritten = result.rewritten?.length ?? 0;
    state.rewrittenChunks += rewritten;
    if (result.checked) state.checked = result.checked;
    const { completed } = result;
    if (result.records.length > 0 || rewritten > 0 || completed) {
      // The follow wrote them, after the pending ones, into the live manifest (or the complete one).
      state.nextIndex += result.records.length;
      manifest.written(completed?.totalSize ?? state.nextIndex * chunkSize);
      ctx.progressed();
    }
    const observed = snapshotOf(result.observation, input.stream.relPath);
    ctx.learn(observed);
    if (completed) return { summary: await ctx.completion.announce(completed, observed), file: observed };
    if (result.end === 'shrank') {
      // The chunks past the new end changed as surely as a rewritten one: they count as such,
      // and the others are checked against the file before the stream completes.
      const intact = intactFullChunks(state.nextIndex, chunkSize, observed.size);
      log.warn('file shrank under uploaded chunks: uploading it again from there', {
        ...streamLogFields(ctx.input.stream),
        changed: state.nextIndex - intact,
      });
      state.rewrittenChunks += state.nextIndex - intact;
      state.nextIndex = intact;
    }
    // On shutdown, the restarted watcher's signal or the durable timer brings the stream back.
    if (result.end === 'quiet' || result.end === 'stopping') this.endedAtMtimeMs = observed.mtimeMs;
    return null;
  }

  /**
   * The chunks a cancelled follow had uploaded stay the stream's: a cancelled stream's manifest
   * lists them (they may be in a live one already) instead of deleting them, and a paused one
   * carries on after them.
   */
  private keepUploadsOf(progress: FollowProgress | null): void {
    if (!progress) return;
    const { state } = this.ctx;
    state.nextIndex += progress.records.length;
    state.rewrittenChunks += progress.rewritten.length;
    state.pendingChunks.push(...progress.records, ...progress.rewritten);
  }
}
