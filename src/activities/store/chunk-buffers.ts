/** Buffers left unused this long are let go: memory returns to its resting size after a backlog. */
const IDLE_RELEASE_MS = 10_000;

/**
 * Reusable buffers for chunks read whole into memory. A backlog reads thousands of chunks: a fresh
 * 10 MiB allocation each time costs page faults (the kernel zeroes every page) and garbage
 * collection, which showed as CPU time per GB. At most one buffer per upload slot is in use, so
 * the pool never holds more than MAX_CONCURRENT_UPLOADS of them.
 */
export class ChunkBuffers {
  private readonly free: Buffer[] = [];
  private inUse = 0;
  private releaseTimer?: NodeJS.Timeout;

  /**
   * Runs `work` with a buffer of exactly `size` bytes. The buffer goes back to the pool only when
   * `work` succeeds: after a failure a request may still hold it (an aborted socket write).
   */
  async use<T>(size: number, work: (buffer: Buffer) => Promise<T>): Promise<T> {
    clearTimeout(this.releaseTimer);
    const pooled = this.free.pop();
    const buffer = pooled && pooled.length >= size ? pooled : Buffer.allocUnsafeSlow(size);
    this.inUse++;
    try {
      const result = await work(buffer.subarray(0, size));
      this.free.push(buffer);
      return result;
    } finally {
      this.inUse--;
      if (this.inUse === 0) this.releaseTimer = setTimeout(() => (this.free.length = 0), IDLE_RELEASE_MS).unref();
    }
  }
}
