import type { FileLook, StreamRef } from './stream/types';

/**
 * Told when a follow of the file at `relPath` ends, with its last look at the file (what its
 * result tells the stream); absent when the follow failed or the file went.
 */
export type FollowEndedListener = (relPath: string, last?: FileLook) => void;

/**
 * The streams whose file an activity of this process is following right now. While one is, the
 * watcher leaves the file to it (each signal costs the stream's history four events, and the
 * follow sees the growth itself); the stream re-checks the file when the follow ends, and the
 * watcher takes up the file from the follow's last look, so a change made just then is never
 * missed. On shutdown every follow ends with what it uploaded.
 */
export class FollowedStreams {
  private readonly streams = new Counts();
  private readonly paths = new Counts();
  private readonly stopping = new AbortController();
  private readonly listeners = new Set<FollowEndedListener>();

  /** Marks the stream followed until the returned function is called with the follow's last look at the file. */
  follow({ streamId, relPath }: Pick<StreamRef, 'streamId' | 'relPath'>): (last?: FileLook) => void {
    this.streams.add(streamId);
    this.paths.add(relPath);
    let released = false;
    return (last) => {
      if (released) return;
      released = true;
      this.streams.remove(streamId);
      this.paths.remove(relPath);
      for (const listener of this.listeners) listener(relPath, last);
    };
  }

  /** Calls `listener` whenever a follow ends; returns the function that stops it. */
  onFollowEnded(listener: FollowEndedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  isFollowed(streamId: string): boolean {
    return this.streams.has(streamId);
  }

  /** Whether a stream of the file at `relPath` is followed: the watcher then leaves it to the follow. */
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
