/**
 * How the app process is started, for its memory: node's flags and glibc's malloc settings,
 * wherever it starts. The Dockerfile (CMD, ENV) and `npm start` carry copies (test/deploy checks
 * them); the local mode, the bench and the tests pass these. Measured in bench/results/issue11.md
 * (live, 10 streams: an edge's peak 186 -> 149 MB, the all-in-one's 252 -> 195 MB).
 *
 * Since Node 22, V8 lets its young generation grow to two 64 MB semi-spaces on a 64-bit host. The
 * app's garbage is short-lived (requests, records, log lines), and most of its allocation is
 * Buffers, which trigger scavenges of their own: a 4 MB semi-space took 16 MB off an edge's peak
 * for 0.4 s more GC pauses over three minutes, and no change in chunk lag.
 */
export const APP_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/**
 * glibc's malloc otherwise gives each thread that allocates (libuv's, V8's, the Temporal core's
 * tokio threads) an arena of its own, and keeps freed memory for reuse, raising its thresholds as
 * the process runs: 2 arenas and fixed thresholds return freed memory to the kernel. It reads
 * these before any JavaScript runs, so they are set in the environment the process starts with.
 */
export const APP_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
