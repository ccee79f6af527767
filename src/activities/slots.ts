import type { UploadPriority } from './store/upload-rate';

/**
 * A bound on how many of one kind of work a process runs at once, shared by all its streams: chunk
 * uploads, so that fifty live streams do not open fifty connections and split the uplink fifty
 * ways; checks of a file against its chunks, so that a hundred streams ending together are
 * checked a few at a time and complete one by one, not all last. Waiters are served live first,
 * then backlog, each in arrival order: a backlog holding every slot would otherwise delay live
 * streams.
 */
export class Slots {
  private free: number;
  private readonly waiting: Record<UploadPriority, Array<() => void>> = { live: [], backlog: [] };

  constructor(size: number) {
    this.free = size;
  }

  async use<T>(work: () => Promise<T>, signal?: AbortSignal, priority: UploadPriority = 'backlog'): Promise<T> {
    await this.acquire(priority, signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(priority: UploadPriority, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', abort);
        resolve();
      };
      const queue = this.waiting[priority];
      const abort = () => {
        queue.splice(queue.indexOf(grant), 1);
        reject(signal!.reason);
      };
      queue.push(grant);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiting.live.shift() ?? this.waiting.backlog.shift();
    if (next) next();
    else this.free++;
  }
}
