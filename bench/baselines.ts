import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { s3ClientFor, type S3Server } from '../scripts/s3-servers';
import { chunkKey } from '../src/stream/object-keys';

/**
 * What moving the same bytes costs without the product, on the same disk and the same S3 server:
 * reading them (the disk's limit), PUTting them in the app's chunks from a plain loop (our floor:
 * the bytes without Temporal), and `rclone copy` (what an operator would use instead). Each
 * returns its wall time; `parallel` files are in flight at once in all three.
 */

export interface Timed {
  seconds: number;
  bytes: number;
  /** How the baseline ran, for the report (never credentials). */
  how: string;
}

/** Runs `work` over `items`, at most `parallel` at once, each lane taking the next item. */
async function inLanes<T>(items: T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, lane));
}

async function timed(bytes: number, how: string, work: () => Promise<void>): Promise<Timed> {
  const started = performance.now();
  await work();
  return { seconds: (performance.now() - started) / 1000, bytes, how };
}

async function totalBytes(files: string[]): Promise<number> {
  let sum = 0;
  for (const file of files) sum += (await fs.stat(file)).size;
  return sum;
}

/** Reads every byte once into a reused buffer: nothing can upload faster than this. */
export async function readFiles(files: string[], parallel: number, bufferBytes: number): Promise<Timed> {
  return timed(await totalBytes(files), `fs reads of ${bufferBytes} bytes, ${parallel} files at once`, () =>
    inLanes(files, parallel, async (file) => {
      const buffer = Buffer.allocUnsafe(bufferBytes);
      const handle = await fs.open(file, 'r');
      try {
        while ((await handle.read(buffer, 0, buffer.length, null)).bytesRead > 0);
      } finally {
        await handle.close();
      }
    }),
  );
}

/**
 * One PutObject per chunk, read whole into memory, in order per file, with the SDK's defaults: no
 * durable state, no hashing of our own, no existence check. The product does more per chunk; this
 * is what the bytes cost alone.
 */
export async function putChunks(
  minio: S3Server,
  bucket: string,
  prefix: string,
  files: string[],
  parallel: number,
  chunkSize: number,
): Promise<Timed> {
  const s3 = s3ClientFor(minio);
  try {
    return await timed(
      await totalBytes(files),
      `PutObject of ${chunkSize}-byte chunks, @aws-sdk/client-s3 defaults, ${parallel} files at once`,
      () =>
        inLanes(files, parallel, async (file) => {
          const buffer = Buffer.allocUnsafe(chunkSize);
          const handle = await fs.open(file, 'r');
          try {
            for (let index = 0; ; index++) {
              const { bytesRead } = await handle.read(buffer, 0, chunkSize, index * chunkSize);
              if (bytesRead === 0) break;
              await s3.send(
                new PutObjectCommand({
                  Bucket: bucket,
                  Key: chunkKey(`${prefix}/${path.basename(file)}`, index),
                  Body: buffer.subarray(0, bytesRead),
                }),
              );
            }
          } finally {
            await handle.close();
          }
        }),
    );
  } finally {
    s3.destroy();
  }
}

const RCLONE_REMOTE = 'BENCHS3';

/**
 * `rclone copy` of the files' directory, with its defaults but for --transfers. The remote is
 * configured through environment variables only: no config file holds the credentials.
 */
export async function rcloneCopy(
  minio: S3Server,
  bucket: string,
  prefix: string,
  dir: string,
  files: string[],
  parallel: number,
): Promise<Timed> {
  const config = `RCLONE_CONFIG_${RCLONE_REMOTE}_`;
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    [`${config}TYPE`]: 's3',
    [`${config}PROVIDER`]: 'Minio',
    [`${config}ENDPOINT`]: minio.endpoint,
    [`${config}REGION`]: minio.region,
    [`${config}ACCESS_KEY_ID`]: minio.accessKeyId,
    [`${config}SECRET_ACCESS_KEY`]: minio.secretAccessKey,
  };
  const args = [
    'copy',
    dir,
    `${RCLONE_REMOTE}:${bucket}/${prefix}`,
    '--transfers',
    String(parallel),
    '--s3-no-check-bucket',
    '--quiet',
  ];
  return timed(
    await totalBytes(files),
    `rclone ${args.filter((arg) => arg !== dir && !arg.includes(':')).join(' ')}`,
    async () => {
      const child = spawn('rclone', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (data: Buffer) => (stderr = (stderr + data.toString()).slice(-4000)));
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            err.code === 'ENOENT'
              ? new Error('rclone is not on PATH: run `npm run setup` (scripts/install-tools.sh) to install it')
              : err,
          ),
        );
        child.once('exit', resolve);
      });
      if (code !== 0) throw new Error(`rclone copy exited with ${code}: ${stderr}`);
    },
  );
}
