import type { Client } from '@temporalio/client';
import type { AppConfig } from '../config';
import { FollowedStreams } from '../followed-streams';
import type { AppLogger } from '../logger';
import type { StreamMetrics } from '../metrics';
import { completesChunk } from '../stream/chunk-plan';
import { Coalescer } from './coalescer';
import { QuietTimers } from './quiet-timers';
import { createQuietNotifier, createStreamSignaler, streamOptionsFrom } from './stream-signaler';
import { recordingFilter } from './file-filter';
import { watchDirectory, type FileEvent } from './watch-directory';

const RETRY_SIGNAL_AFTER_MS = 5_000;
const QUIET_MARGIN_MS = 50;

export interface Watcher {
  close(): Promise<void>;
}

/**
 * Watches WATCH_DIR and keeps each recording's workflow informed. Events are coalesced per file:
 * a new file, a new full chunk and the size a burst of writes ends at are signalled, and so is
 * the moment a file has been quiet for the idle timeout, except while an activity of this
 * process follows the file (it sees the growth itself, and the watcher takes the file up again
 * from the follow's last look).
 * A signal Temporal refused is retried with the file's newest state, so an outage loses nothing.
 */
export async function startWatcher(
  config: AppConfig,
  client: Client,
  logger: AppLogger,
  followed = new FollowedStreams(),
  metrics?: StreamMetrics,
): Promise<Watcher> {
  const signalStream = createStreamSignaler({
    client,
    followed,
    taskQueue: config.temporal.taskQueue,
    s3Prefix: config.s3.prefix,
    streamOptions: streamOptionsFrom(config),
    logger,
  });
  const retries = new Set<NodeJS.Timeout>();
  // Once closing, a signal that fails is not tried again: Temporal may be what is going away.
  let closing = false;
  const newChunk = (sent: FileEvent, next: FileEvent) =>
    completesChunk(sent.snapshot.size, next.snapshot.size, config.chunkSize);
  const coalescer: Coalescer<FileEvent> = new Coalescer(
    config.watchCoalesceIntervalMs,
    (key, event) => {
      void signalStream(event).then((delivered) => {
        if (delivered || closing) return;
        const timer = setTimeout(() => {
          retries.delete(timer);
          coalescer.push(key, event);
        }, RETRY_SIGNAL_AFTER_MS);
        retries.add(timer);
      });
    },
    newChunk,
  );
  const notifyQuiet = createQuietNotifier({ client, s3Prefix: config.s3.prefix, logger, followed });
  const quiet = new QuietTimers<FileEvent>((_key, event) => void notifyQuiet(event));
  const onFile = (event: FileEvent) => {
    const key = `${event.relPath}@${event.identity.ino}`;
    coalescer.push(key, event);
    // A little after the idle timeout, so that the stream's own clock agrees the file is idle.
    quiet.touch(key, event, event.snapshot.mtimeMs + config.streamIdleTimeoutMs + QUIET_MARGIN_MS);
  };
  const watch = watchDirectory({
    dir: config.watchDir,
    onFile,
    onSkipped: (reason) => metrics?.filesSkipped.inc({ reason }),
    logger,
    rescanIntervalMs: config.watchRescanIntervalMs,
    isRecordingPath: recordingFilter(config.watchPatterns),
    isFollowed: (relPath) => followed.followsPath(relPath),
  });
  const stopTakingUp = followed.onFollowEnded((relPath, last) => watch.followEnded(relPath, last));
  const existing = await watch.ready;
  logger.info({ watchDir: config.watchDir, existingFiles: existing }, 'watching for recordings');
  return {
    async close() {
      closing = true;
      stopTakingUp();
      await watch.close();
      coalescer.flush();
      quiet.close();
      for (const timer of retries) clearTimeout(timer);
    },
  };
}
