/** A buffer no upload took for this long is let go: the pool follows the uploads in flight lately, not their peak. */
const IDLE_RELEASE_MS = 10_000;

/** A buffer back in the pool, and when it came back. */
interface FreeBuffer {
  buffer: Buffer<ArrayBuffer>;
  freedAt: number;
}

/**
 * Reusable buffers for chunks read whole into memory. A backlog reads thousands of chunks: a fresh
 * 10 MiB allocation each time costs page faults (the kernel zeroes every page) and garbage
 * collection, which showed as CPU time per GB. At most one buffer per upload slot is in use, so
 * the pool never holds more than MAX_CONCURRENT_UPLOADS of them. The one freed last is taken
 * first, so that a burst of uploads (a hundred recordings ending together) leaves buffers that
 * the steady flow after it never takes, and those are freed.
 */
export class ChunkBuffers {
  /** Oldest first. */
  private readonly free: FreeBuffer[] = [];
  private releaseTimer?: NodeJS.Timeout;

  /**
   * Runs `work` with a buffer of exactly `size` bytes. The buffer goes back to the pool only when
   * `work` succeeds: after a failure a request may still hold it (an aborted socket write).
   */
  async use<T>(size: number, work: (buffer: Buffer<ArrayBuffer>) => Promise<T>): Promise<T> {
    let buffer = this.free.pop()?.buffer;
    if (buffer && buffer.length < size) {
      discard(buffer);
      buffer = undefined;
    }
    buffer ??= Buffer.allocUnsafeSlow(size);
    const result = await work(buffer.subarray(0, size));
    this.free.push({ buffer, freedAt: Date.now() });
    this.releaseTimer ??= setTimeout(() => this.release(), IDLE_RELEASE_MS).unref();
    return result;
  }

  /** Lets go of the buffers idle for IDLE_RELEASE_MS, and looks again when the next one will be. */
  private release(): void {
    this.releaseTimer = undefined;
    const idleSince = Date.now() - IDLE_RELEASE_MS;
    const idle = this.free.findIndex((entry) => entry.freedAt > idleSince);
    for (const entry of this.free.splice(0, idle === -1 ? this.free.length : idle)) discard(entry.buffer);
    if (this.free.length > 0)
      this.releaseTimer = setTimeout(() => this.release(), this.free[0].freedAt - idleSince).unref();
  }
}

/**
 * Frees a pooled buffer's memory now: dropped instead, its 10 MiB would stay resident until a
 * garbage collection found it, while the next burst of uploads allocates new ones. Nothing else
 * holds a pooled buffer (its upload succeeded), so detaching it is safe.
 */
function discard(buffer: Buffer<ArrayBuffer>): void {
  buffer.buffer.transfer(0);
}
