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
 *
 * V8 lets the old generation grow to up to four times what survived the last full collection
 * when its limit is 2 GB or more (a quarter of the host's memory by default), and by a factor
 * between 1.3 and 2 below that. The app's live heap is about 45 MB, and a chunk buffer let go
 * was then freed only by a full collection (the pool now frees it itself, see `ChunkBuffers`): at
 * 100 live streams the heap grew from 45 to 108 MB and the Buffers to 80 MB between two of them.
 * A 512 MB limit (a factor of 1.4) kept the heap under
 * 56 MB and the peak at 244-262 MB against 282-346 MB, for the same CPU per GB
 * (bench/results/live-100-cameras-heap-limit.md). It caps the workflow thread's heap as well, and
 * the Temporal SDK sizes its workflow cache from it (189 stream workflows a process keeps in
 * memory between their tasks; others are replayed from their history).
 */
export const APP_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--max-old-space-size=512'];

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
