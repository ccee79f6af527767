import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Server } from '../../scripts/s3-servers';
import { createS3Client } from '../../src/s3';

export interface AppS3Client {
  s3: S3Client;
  /** Runs `hook` once, on the next PutObject, as its request leaves (after the chunk was hashed). */
  onNextPut(hook: () => void): void;
  /** PutObject requests sent so far. */
  puts(): number;
}

/**
 * The app's own S3 client against `minio` (or `endpoint`, a proxy in front of it), with its
 * credentials read from the environment as in production, and a hook on its PutObject requests.
 */
export function appS3Client(
  minio: S3Server,
  bucket: string,
  options: { prefix: string; endpoint?: string; requestTimeoutMs?: number },
): AppS3Client {
  process.env.AWS_ACCESS_KEY_ID = minio.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = minio.secretAccessKey;
  const s3 = createS3Client({
    endpoint: options.endpoint ?? minio.endpoint,
    region: minio.region,
    bucket,
    prefix: options.prefix,
    forcePathStyle: true,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
  });
  let nextPut: (() => void) | undefined;
  let puts = 0;
  s3.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'PutObjectCommand') {
        puts++;
        const hook = nextPut;
        nextPut = undefined;
        hook?.();
      }
      return next(args);
    },
    { step: 'finalizeRequest', name: 'hookOnNextPut' },
  );
  return {
    s3,
    onNextPut: (hook) => {
      nextPut = hook;
    },
    puts: () => puts,
  };
}
