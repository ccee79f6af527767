import fs from 'node:fs';
import http from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { FailureType } from './stream/failures';
import { RUNNING_PHASES, type StreamSurvey } from './stream-survey';

const EVENT_LOOP_SAMPLE_MS = 100;

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
  activityFailures: Counter<'reason'>;
  /** Deprecated: `activityFailures` under its old name, for one release. */
  uploadFailures: Counter<'reason'>;
  retries: Counter;
  activeStreams: Gauge;
  streamsFinished: Counter<'status'>;
  chunkLag: Histogram;
  finalizeLatency: Histogram;
  localFilesDeleted: Counter;
  localBytesFreed: Counter;
}

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * Below the container health check's 5 s timeout: while Temporal is unreachable its client retries
 * for half a minute, and a scrape waiting for it would fail the health check and blank every metric.
 */
const ACTIVE_STREAMS_QUERY_TIMEOUT_MS = 3000;

/**
 * `surveyStreams` is asked at scrape time, so the gauges are right after crashes and restarts
 * too. It should give up when `signal` aborts; the scrape stops waiting for it then anyway.
 * `watchDir` (absent in a workflow process, which has none) gets its filesystem's free space.
 */
export function createMetrics(
  surveyStreams: (signal: AbortSignal) => Promise<StreamSurvey>,
  watchDir?: string,
): StreamMetrics {
  const registry = new Registry();
  // Event-loop delay is sampled by a native timer: every 10 ms by default, 100 wake-ups a second
  // that made most of an idle app's CPU (12 ms/s, 5.5 ms/s without them; docs/performance.md).
  // A delay worth an alert is far longer than 100 ms.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const registers = [registry];
  const surveyOncePerScrape = oncePerScrape(refreshSurvey);
  const surveyed = { registers, collect: surveyOncePerScrape };
  const activeStreams = new Gauge({
    name: 'stream_uploader_active_streams',
    help: 'Streams whose workflow is running on this task queue (the last count Temporal gave: see stream_uploader_active_streams_query_up)',
    ...surveyed,
  });
  const streamsByPhase = new Gauge({
    name: 'stream_uploader_streams',
    help: 'Running streams on this task queue by phase (StreamStatus): recording, paused (by an operator) or blocked (waiting for `cli resume`)',
    labelNames: ['phase'],
    ...surveyed,
  });
  const hostQueueStreams = new Gauge({
    name: 'stream_uploader_host_queue_streams',
    help: "Running streams whose file activities wait on a host's queue, by HOST_ID",
    labelNames: ['host'],
    ...surveyed,
  });
  const hostQueuePollers = new Gauge({
    name: 'stream_uploader_host_queue_pollers',
    help: "Workers polling a host's queue (Temporal forgets a gone worker after a few minutes), by HOST_ID, for hosts with running streams",
    labelNames: ['host'],
    ...surveyed,
  });
  const activeStreamsQueryUp = new Gauge({
    name: 'stream_uploader_active_streams_query_up',
    help: 'Whether this scrape surveyed the running streams in Temporal (1), or it failed or timed out and the stream gauges are stale (0)',
    ...surveyed,
  });
  async function refreshSurvey(): Promise<void> {
    const signal = AbortSignal.timeout(ACTIVE_STREAMS_QUERY_TIMEOUT_MS);
    try {
      const survey = await untilAborted(surveyStreams(signal), signal);
      activeStreams.set(survey.running);
      for (const phase of RUNNING_PHASES) streamsByPhase.set({ phase }, survey.phases[phase]);
      // A host whose streams all ended drops out, rather than staying at its last value.
      hostQueueStreams.reset();
      hostQueuePollers.reset();
      for (const { host, streams, pollers } of survey.hosts) {
        hostQueueStreams.set({ host }, streams);
        hostQueuePollers.set({ host }, pollers);
      }
      activeStreamsQueryUp.set(1);
    } catch {
      // Only these gauges pay for an unreachable Temporal; they keep their last values, marked stale.
      activeStreamsQueryUp.set(0);
    }
  }
  if (watchDir !== undefined) watchDirGauges(watchDir, registers);
  const metrics: StreamMetrics = {
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
      help: 'Deliveries of the completion webhook, by outcome: delivered, rejected (not retried), failed (an attempt, retried) or given_up (the last of its attempts failed)',
      labelNames: ['outcome'],
      registers,
    }),
    localFilesDeleted: new Counter({
      name: 'stream_uploader_local_files_deleted_total',
      help: 'Recordings deleted from WATCH_DIR once complete and checked in the bucket (AFTER_UPLOAD=delete)',
      registers,
    }),
    localBytesFreed: new Counter({
      name: 'stream_uploader_local_bytes_freed_total',
      help: 'Bytes of the recordings deleted from WATCH_DIR (AFTER_UPLOAD=delete)',
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
    activityFailures: new Counter({
      name: 'stream_uploader_activity_failures_total',
      help: 'Failed activity attempts (uploads, checks, manifests, webhooks, ...), by reason (a failure type, or "transient" for network, 5xx and throttling)',
      labelNames: ['reason'],
      registers,
    }),
    // The same count under the name it had until this release, which counted more than uploads.
    uploadFailures: new Counter({
      name: 'stream_uploader_upload_failures_total',
      help: 'Deprecated, removed in the next release: stream_uploader_activity_failures_total under its old name',
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
  // Every known label value from 0: rate() and increase() miss a series' first sample, so a first
  // failure (or a one-off webhook given up) would otherwise never show in a panel or an alert.
  for (const outcome of ['delivered', 'rejected', 'failed', 'given_up']) metrics.completionWebhook.inc({ outcome }, 0);
  for (const reason of ['transient', 'cancelled', ...Object.values(FailureType)]) {
    metrics.activityFailures.inc({ reason }, 0);
    metrics.uploadFailures.inc({ reason }, 0);
  }
  for (const status of ['complete', 'cancelled', 'failed']) metrics.streamsFinished.inc({ status }, 0);
  return metrics;
}

/**
 * The free space of `watchDir`'s filesystem: a full disk truncates the recordings themselves, before
 * anything is uploaded. Read at scrape time; a failed read (the directory gone) leaves NaN.
 */
function watchDirGauges(watchDir: string, registers: Registry[]): void {
  const statfsOncePerScrape = oncePerScrape(async () => {
    const stats = await fs.promises.statfs(watchDir).catch(() => undefined);
    freeBytes.set(stats ? stats.bavail * stats.bsize : NaN);
    sizeBytes.set(stats ? stats.blocks * stats.bsize : NaN);
    freeInodes.set(stats ? stats.ffree : NaN);
    inodes.set(stats ? stats.files : NaN);
  });
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers, collect: statfsOncePerScrape });
  const freeBytes = gauge('stream_uploader_watch_dir_free_bytes', "Bytes free to the app on WATCH_DIR's filesystem");
  const sizeBytes = gauge('stream_uploader_watch_dir_size_bytes', "Size of WATCH_DIR's filesystem");
  const freeInodes = gauge('stream_uploader_watch_dir_free_inodes', "Free inodes on WATCH_DIR's filesystem");
  const inodes = gauge('stream_uploader_watch_dir_inodes', "Inodes of WATCH_DIR's filesystem");
}

/** `refresh` shared by every gauge it feeds: the registry collects them at once, as do overlapping scrapes. */
function oncePerScrape(refresh: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= refresh().finally(() => {
      running = undefined;
    });
    return running;
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
