import pino from 'pino';
import type { Logger as TemporalLogger, LogLevel as TemporalLogLevel, LogMetadata } from '@temporalio/common';
import type { LogLevel } from './config';

export type AppLogger = pino.Logger;

/**
 * JSON lines on stdout. Error objects are serialised with their stack; credentials never reach a
 * log line because the config keeps none and S3 errors are logged by name and message only.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): AppLogger {
  return pino(
    {
      level,
      base: { service: 'stream-uploader' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // The Temporal SDK passes failures as `error`: without a serializer an Error prints as {}.
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      redact: { paths: ['*.secretAccessKey', '*.accessKeyId', '*.password', '*.authorization'], censor: '[redacted]' },
    },
    destination,
  );
}

/**
 * Each of our workers is single-purpose by design (workflows on the shared task queue, activities
 * on the host's own): the SDK's warning that one of them lacks the other half is no news.
 */
const BY_DESIGN = new Set([
  'No workflows registered, not polling for workflow tasks',
  'No activities registered, not polling for activity tasks',
]);

/**
 * The SDK logs webpack's whole report at info when it bundles the workflows from source (local
 * mode, tests): dozens of lines that say nothing to an operator. Errors stay errors.
 */
const WEBPACK_REPORT = /^webpack \d+\.\d+\.\d+ compiled/m;

/**
 * Lets the Temporal SDK (worker, workflow and activity logs) write through the same pino logger,
 * so every line has one format and workflow/activity lines carry their workflowId.
 */
export class TemporalPinoLogger implements TemporalLogger {
  constructor(private readonly logger: AppLogger) {}

  log(level: TemporalLogLevel, message: string, meta?: LogMetadata): void {
    const method =
      BY_DESIGN.has(message) || (level === 'INFO' && WEBPACK_REPORT.test(message))
        ? 'debug'
        : (level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error');
    // The task token is an opaque credential for completing the activity: no use in a log.
    const { taskToken, ...rest } = meta ?? {};
    this.logger[method](rest, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
