import http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The app's Prometheus metrics. Dashboards and alerts depend on these names. Labels stay
 * low-cardinality: never a stream id or a path.
 */
export interface StreamMetrics {
  registry: Registry;
  chunksUploaded: Counter;
  bytesUploaded: Counter;
  manifestBytes: Counter;
  chunksReread: Counter;
  completionWebhook: Counter<'outcome'>;
  filesSkipped: Counter<'reason'>;
  chunkUploadDuration: Histogram;
  uploadFailures: Counter<'reason'>;
  retries: Counter;
  activeStreams: Gauge;
  streamsFinished: Counter<'status'>;
  chunkLag: Histogram;
  finalizeLatency: Histogram;
}

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Below the container health check's 5 s timeout: while Temporal is unreachable its client retries
 * for half a minute, and a scrape waiting for it would fail the health check and blank every metric.
 */
const ACTIVE_STREAMS_QUERY_TIMEOUT_MS = 3000;

/**
 * `countActiveStreams` is asked at scrape time, so the gauge is right after crashes and restarts
 * too. It should give up when `signal` aborts; the scrape stops waiting for it then anyway.
 */
export function createMetrics(countActiveStreams: (signal: AbortSignal) => Promise<number>): StreamMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const activeStreams = new Gauge({
    name: 'stream_uploader_active_streams',
    help: 'Streams whose workflow is running on this task queue (the last count Temporal gave: see stream_uploader_active_streams_query_up)',
    registers,
    async collect() {
      await countOncePerScrape();
    },
  });
  const activeStreamsQueryUp = new Gauge({
    name: 'stream_uploader_active_streams_query_up',
    help: 'Whether this scrape counted the active streams in Temporal (1), or it failed or timed out and stream_uploader_active_streams is stale (0)',
    registers,
    async collect() {
      await countOncePerScrape();
    },
  });
  // The registry collects both gauges at once: they share one query, as do overlapping scrapes.
  let counting: Promise<void> | undefined;
  function countOncePerScrape(): Promise<void> {
    counting ??= refreshActiveStreams().finally(() => {
      counting = undefined;
    });
    return counting;
  }
  async function refreshActiveStreams(): Promise<void> {
    const signal = AbortSignal.timeout(ACTIVE_STREAMS_QUERY_TIMEOUT_MS);
    try {
      activeStreams.set(await untilAborted(countActiveStreams(signal), signal));
      activeStreamsQueryUp.set(1);
    } catch {
      // Only this gauge pays for an unreachable Temporal; it keeps its last value, marked stale.
      activeStreamsQueryUp.set(0);
    }
  }
  return {
    registry,
    chunksUploaded: new Counter({
      name: 'stream_uploader_chunks_uploaded_total',
      help: 'Chunks stored in the bucket (each once, retries included)',
      registers,
    }),
    bytesUploaded: new Counter({
      name: 'stream_uploader_bytes_uploaded_total',
      help: 'Bytes of chunks stored in the bucket',
      registers,
    }),
    manifestBytes: new Counter({
      name: 'stream_uploader_manifest_bytes_written_total',
      help: 'Bytes of manifests (metadata.json and pages of chunk records) written to the bucket',
      registers,
    }),
    chunksReread: new Counter({
      name: 'stream_uploader_chunks_reread_total',
      help: 'Chunks read again to check them against their upload (those read under the mtime the file still has are trusted)',
      registers,
    }),
    completionWebhook: new Counter({
      name: 'stream_uploader_completion_webhook_total',
      help: 'Deliveries of the completion webhook, by outcome: delivered, rejected (not retried) or failed (retried a bounded number of times)',
      labelNames: ['outcome'],
      registers,
    }),
    filesSkipped: new Counter({
      name: 'stream_uploader_files_skipped_total',
      help: 'Recordings the watcher saw and does not upload, once per path, by reason: symlink, name_not_utf8',
      labelNames: ['reason'],
      registers,
    }),
    chunkUploadDuration: new Histogram({
      name: 'stream_uploader_chunk_upload_duration_seconds',
      help: 'Time to read, hash and store one chunk',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    uploadFailures: new Counter({
      name: 'stream_uploader_upload_failures_total',
      help: 'Failed activity attempts, by reason (a failure type, or "transient" for network, 5xx and throttling)',
      labelNames: ['reason'],
      registers,
    }),
    retries: new Counter({
      name: 'stream_uploader_retries_total',
      help: 'Activity attempts after the first',
      registers,
    }),
    activeStreams,
    streamsFinished: new Counter({
      name: 'stream_uploader_streams_finished_total',
      help: 'Streams ended, by manifest status',
      labelNames: ['status'],
      registers,
    }),
    chunkLag: new Histogram({
      name: 'stream_uploader_chunk_lag_seconds',
      help: "From a chunk's bytes being complete on disk to its object existing",
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    finalizeLatency: new Histogram({
      name: 'stream_uploader_finalize_latency_seconds',
      help: 'From the last write to the manifest being visible, minus the idle timeout',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
}

/** `work`, or the signal's reason as soon as it aborts, whether or not `work` heeds the signal. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    work.then(resolve, reject);
  });
}

/** Serves `/metrics`; the container health check probes it too. */
export async function serveMetrics(registry: Registry, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => response.writeHead(200, { 'Content-Type': registry.contentType }).end(body),
      (err: Error) => response.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}
