import { isIP } from 'node:net';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { ConfigError, developmentCredentials, developmentCredentialsWarning, loadConfig, loadDotEnv } from './config';
import { FollowedStreams } from './followed-streams';
import { createLogger, TemporalPinoLogger } from './logger';
import { createMetrics, serveMetrics } from './metrics';
import { createS3Client } from './s3';
import { streamSurveyor } from './stream-survey';
import {
  connectFailure,
  credentialsRefusal,
  describeTemporalSecurity,
  temporalConnectionOptions,
} from './temporal-connection';
import { registerSearchAttributes } from './temporal-setup';
import { startWatcher } from './watcher';
import { createStreamWorkers } from './worker';

/**
 * The app: one process runs the watcher and a Temporal worker. SIGINT/SIGTERM stop the watcher,
 * let in-flight activities finish (or hand them back), then exit 0.
 */
async function main(): Promise<void> {
  loadDotEnv(path.resolve('.env'));
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const defaultCredentials = developmentCredentials(process.env);
  if (defaultCredentials.length > 0)
    logger.warn({ variables: defaultCredentials }, developmentCredentialsWarning(defaultCredentials));
  // Brackets for an IPv6 address in host:port.
  const metricsBind = isIP(config.metricsHost) === 6 ? `[${config.metricsHost}]` : config.metricsHost;
  Runtime.install({
    logger: new TemporalPinoLogger(logger),
    // We stop the watcher before the worker, so the signals are ours to handle.
    shutdownSignals: [],
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'WARN' }, forward: {} },
      metrics: { prometheus: { bindAddress: `${metricsBind}:${config.temporalMetricsPort}` } },
    },
  });

  const { namespace } = config.temporal;
  // The worker's connection (Rust core) and the client's (gRPC-js), from the same options.
  const connectionOptions = temporalConnectionOptions(config.temporal);
  const failed = async (err: unknown) => {
    throw await connectFailure(connectionOptions, err);
  };
  const workerConnection = await NativeConnection.connect(connectionOptions).catch(failed);
  const clientConnection = await Connection.connect(connectionOptions).catch(failed);
  const client = new Client({ connection: clientConnection, namespace });
  const registered = await registerSearchAttributes(clientConnection, namespace);
  if (registered.length > 0) logger.info({ registered }, 'registered search attributes');
  const s3 = createS3Client(config.s3);
  const metrics = createMetrics(
    streamSurveyor(client, config.temporal.taskQueue),
    config.role === 'workflow' ? undefined : config.watchDir,
  );
  const metricsServer = await serveMetrics(metrics.registry, config.metricsHost, config.metricsPort);
  const followed = new FollowedStreams();
  const workers = await createStreamWorkers(config, workerConnection, s3, metrics, followed);
  const running = Promise.all(workers.map((worker) => worker.run()));
  // A workflow process has no files to watch.
  const watcher = config.role === 'workflow' ? null : await startWatcher(config, client, logger, followed, metrics);
  logger.info(
    {
      role: config.role,
      taskQueue: config.temporal.taskQueue,
      fileTaskQueue: config.temporal.fileTaskQueue,
      namespace,
      temporalAddress: config.temporal.address,
      // Which of TLS, mutual TLS and an API key are on; never a key, a certificate or a path's contents.
      temporalSecurity: describeTemporalSecurity(config.temporal),
      bucket: config.s3.bucket,
    },
    'stream-uploader started',
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Follows hand back what they uploaded at once; uploads in flight get the grace time.
    followed.stop();
    void (watcher?.close() ?? Promise.resolve()).finally(() => workers.forEach((worker) => worker.shutdown()));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  await running;
  metricsServer.close();
  await clientConnection.close();
  await workerConnection.close();
  s3.destroy();
  logger.info('stopped');
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    const refusal = credentialsRefusal(err);
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`stream-uploader failed: ${refusal ? `${refusal}\n` : ''}${detail}\n`);
  }
  process.exit(1);
});
