import http from 'node:http';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { S3Config } from './config';

/**
 * One client per process: keep-alive connections are reused by every upload. Request timeouts
 * turn a stalled connection into a retryable error instead of an activity that hangs.
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
      requestTimeout: config.requestTimeoutMs,
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64 }),
    }),
  });
}
