import type { StreamRef } from './stream/types';

/**
 * The streams whose file an activity of this process is following right now. While one is, the
 * watcher does not signal its growth (each signal costs the stream's history four events, and
 * the follow sees the growth itself); the stream re-checks the file when the follow ends, so a
 * change made just then is never missed. On shutdown every follow ends with what it uploaded.
 */
export class FollowedStreams {
  private readonly streams = new Counts();
  private readonly paths = new Counts();
  private readonly stopping = new AbortController();

  /** Marks the stream followed until the returned function is called. */
  follow({ streamId, relPath }: Pick<StreamRef, 'streamId' | 'relPath'>): () => void {
    this.streams.add(streamId);
    this.paths.add(relPath);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.streams.remove(streamId);
      this.paths.remove(relPath);
    };
  }

  isFollowed(streamId: string): boolean {
    return this.streams.has(streamId);
  }

  /** Whether a stream of the file at `relPath` is followed: the watcher then looks at it less often. */
  followsPath(relPath: string): boolean {
    return this.paths.has(relPath);
  }

  /** Aborted when the process starts shutting down. */
  get stopSignal(): AbortSignal {
    return this.stopping.signal;
  }

  stop(): void {
    this.stopping.abort();
  }
}

class Counts {
  private readonly counts = new Map<string, number>();

  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  remove(key: string): void {
    const count = (this.counts.get(key) ?? 1) - 1;
    if (count > 0) this.counts.set(key, count);
    else this.counts.delete(key);
  }

  has(key: string): boolean {
    return this.counts.has(key);
  }
}
