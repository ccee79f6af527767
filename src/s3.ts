import http from 'node:http';
import https from 'node:https';
import { S3Client, type CreateMultipartUploadCommandInput, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { S3Config } from './config';

/**
 * One client per process: keep-alive connections are reused by every upload. A connection silent
 * for S3_REQUEST_TIMEOUT fails its request (a retryable error) instead of leaving an activity
 * that hangs: that is the handler's socket timeout. Its `requestTimeout` would only log a warning.
 */
export function createS3Client(config: S3Config): S3Client {
  const client = new S3Client({
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
  applyStorageSettings(client, config);
  return client;
}

/** The commands that create objects; the parts of a multipart upload take its settings. */
const OBJECT_WRITES: ReadonlySet<string> = new Set(['PutObjectCommand', 'CreateMultipartUploadCommand']);

/**
 * S3_SSE and S3_STORAGE_CLASS on every object the app writes (chunks, record pages, manifests, the
 * assembled recording), set in the client so that no write path can leave them out.
 */
function applyStorageSettings(client: S3Client, { sse, storageClass }: S3Config): void {
  if (!sse && !storageClass) return;
  const settings: Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId' | 'StorageClass'> = {
    ...(sse && { ServerSideEncryption: sse.type }),
    ...(sse?.type === 'aws:kms' && sse.kmsKeyId !== undefined && { SSEKMSKeyId: sse.kmsKeyId }),
    ...(storageClass && { StorageClass: storageClass }),
  };
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (!OBJECT_WRITES.has(context.commandName ?? '')) return next(args);
      const input = args.input as PutObjectCommandInput | CreateMultipartUploadCommandInput;
      return next({ ...args, input: { ...input, ...settings } });
    },
    { step: 'initialize', name: 'objectStorageSettings' },
  );
}
