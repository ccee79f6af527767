/** Live streams' chunks are sent before a backlog's when both wait: their lag is what viewers see. */
export type UploadPriority = 'live' | 'backlog';

interface Waiter {
  bytes: number;
  grant: () => void;
}

/**
 * UPLOAD_RATE_LIMIT: one token bucket for the chunk uploads of the whole process, holding one
 * second of bytes. A chunk larger than that waits for a full bucket and leaves it in debt, so
 * that over any long run the process sends no more than the rate, whatever CHUNK_SIZE is. Waiters
 * are served live first, then backlog, each in arrival order; a small chunk never overtakes a
 * large one, which would otherwise wait forever.
 */
export class UploadRate {
  private readonly burst: number;
  private tokens: number;
  private refilledAt: number;
  private readonly waiting: Record<UploadPriority, Waiter[]> = { live: [], backlog: [] };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly bytesPerSecond: number) {
    this.burst = bytesPerSecond;
    this.tokens = this.burst;
    this.refilledAt = performance.now();
  }

  /** Resolves once `bytes` may be sent. */
  take(bytes: number, priority: UploadPriority, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const queue = this.waiting[priority];
      const waiter: Waiter = {
        bytes,
        grant: () => {
          signal.removeEventListener('abort', abort);
          resolve();
        },
      };
      const abort = () => {
        queue.splice(queue.indexOf(waiter), 1);
        reject(signal.reason);
        this.serve();
      };
      queue.push(waiter);
      signal.addEventListener('abort', abort, { once: true });
      this.serve();
    });
  }

  private serve(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.bytesPerSecond);
    this.refilledAt = now;
    for (let next = this.head(); next; next = this.head()) {
      const needed = Math.min(next.bytes, this.burst);
      if (this.tokens < needed) {
        const waitMs = ((needed - this.tokens) / this.bytesPerSecond) * 1000;
        this.timer = setTimeout(() => this.serve(), Math.ceil(waitMs));
        return;
      }
      this.tokens -= next.bytes;
      (this.waiting.live.length > 0 ? this.waiting.live : this.waiting.backlog).shift();
      next.grant();
    }
  }

  private head(): Waiter | undefined {
    return this.waiting.live[0] ?? this.waiting.backlog[0];
  }
}
