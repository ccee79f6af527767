import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { S3Config } from './config';

/**
 * One client per process: keep-alive connections are reused by every upload. A connection silent
 * for S3_REQUEST_TIMEOUT fails its request (a retryable error) instead of leaving an activity
 * that hangs: that is the handler's socket timeout. Its `requestTimeout` would only log a warning.
 */
export function createS3Client(config: S3Config): S3Client {
  return new S3Client({
    region: config.region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    // Our own retries are Temporal's (durable, visible in the UI); the SDK's would hide them.
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: 5_000,
      socketTimeout: config.requestTimeoutMs,
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64 }),
    }),
  });
}
