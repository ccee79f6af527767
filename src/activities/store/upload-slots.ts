import type { UploadPriority } from './upload-rate';

/**
 * A bound on the chunk uploads one process runs at once, shared by all its streams, so that fifty
 * live streams do not open fifty connections and split the uplink fifty ways. Waiters are served
 * live first, then backlog, each in arrival order: a backlog holding every slot would otherwise
 * delay live chunks by whole chunks.
 */
export class UploadSlots {
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
