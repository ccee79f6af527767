/** A buffer no upload took for this long is let go: the pool follows the uploads in flight lately, not their peak. */
const IDLE_RELEASE_MS = 10_000;

/** A buffer back in the pool, and when it came back. */
interface FreeBuffer {
  buffer: Buffer;
  freedAt: number;
}

/**
 * Reusable buffers for chunks read whole into memory. A backlog reads thousands of chunks: a fresh
 * 10 MiB allocation each time costs page faults (the kernel zeroes every page) and garbage
 * collection, which showed as CPU time per GB. At most one buffer per upload slot is in use, so
 * the pool never holds more than MAX_CONCURRENT_UPLOADS of them. The one freed last is taken
 * first, so that a burst of uploads (a hundred recordings ending together) leaves buffers that
 * the steady flow after it never takes, and those are let go.
 */
export class ChunkBuffers {
  /** Oldest first. */
  private readonly free: FreeBuffer[] = [];
  private releaseTimer?: NodeJS.Timeout;

  /**
   * Runs `work` with a buffer of exactly `size` bytes. The buffer goes back to the pool only when
   * `work` succeeds: after a failure a request may still hold it (an aborted socket write).
   */
  async use<T>(size: number, work: (buffer: Buffer) => Promise<T>): Promise<T> {
    const pooled = this.free.pop()?.buffer;
    const buffer = pooled && pooled.length >= size ? pooled : Buffer.allocUnsafeSlow(size);
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
    this.free.splice(0, idle === -1 ? this.free.length : idle);
    if (this.free.length > 0)
      this.releaseTimer = setTimeout(() => this.release(), this.free[0].freedAt - idleSince).unref();
  }
}
