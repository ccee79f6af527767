import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { startMinio, startMoto, type S3Server } from '../../scripts/s3-servers';
import { downloadStreamSha256, getObject, listKeys, readManifestObject } from '../support/bucket';
import { sha256File } from '../support/media';
import { startStack, startStream, startWorker, tempDir, type TestStack } from '../support/stack';

const CHUNK_SIZE = 5 * 2 ** 20;
const MINIO_KMS_KEY = 'recordings-key';

interface Expected {
  sse: 'AES256' | 'aws:kms';
  /** What HEAD answers for the KMS key; MinIO names it with an `arn:aws:kms:` prefix. */
  kmsKeyId?: RegExp;
  /** Absent: HEAD says nothing, which is STANDARD. */
  storageClass?: string;
}

/**
 * S3_SSE and S3_STORAGE_CLASS on every object a stream writes (chunks, record pages, metadata.json
 * and the assembled recording), read back with HEAD from two S3 implementations; with SSE-KMS the
 * ETag is no MD5 of the bytes, and the chunks' SHA-256 check holds all the same.
 */
function storageSettingsOn(
  server: string,
  startS3: () => Promise<S3Server>,
  cases: Array<[Record<string, string>, Expected]>,
) {
  describe(`S3_SSE and S3_STORAGE_CLASS on ${server}`, () => {
    let stack: TestStack;
    const watchDir = tempDir(`storage-${server}`);
    before(async () => {
      stack = await startStack({ startS3 });
    });
    after(() => stack?.stop());

    for (const [settings, expected] of cases)
      test(
        Object.entries(settings)
          .map(([name, value]) => `${name}=${value}`)
          .join(' '),
        async () => {
          const worker = await startWorker(stack, { WATCH_DIR: watchDir, ...settings });
          try {
            const relPath = `${expected.sse.replace(':', '-')}-${Date.now()}.mp4`;
            const file = path.join(watchDir, relPath);
            fs.writeFileSync(file, randomBytes(2 * CHUNK_SIZE + 333_333));
            const { handle, stream } = await startStream(stack, worker, relPath, {
              chunkSize: CHUNK_SIZE,
              idleTimeoutMs: 500,
              assemble: true,
            });
            const summary = await handle.result();
            assert.equal(summary.status, 'complete');
            assert.equal(summary.assembled?.copiedParts, 3, 'the chunks are copied server-side into the recording');

            const keys = await listKeys(stack.s3, stack.bucket, `${stream.prefix}/`);
            const kinds = ['/chunks/', '/chunk-records/', '/metadata.json', '/recording.mp4'];
            for (const kind of kinds)
              assert.ok(
                keys.some((key) => key.includes(kind)),
                `${kind} among ${keys.join(', ')}`,
              );
            for (const key of keys) {
              const head = await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }));
              assert.equal(head.ServerSideEncryption, expected.sse, key);
              if (expected.kmsKeyId) assert.match(head.SSEKMSKeyId ?? '', expected.kmsKeyId, key);
              assert.equal(head.StorageClass, expected.storageClass, key);
            }

            const manifest = await readManifestObject(stack.s3, stack.bucket, `${stream.prefix}/metadata.json`);
            const fileSha256 = await sha256File(file);
            assert.equal(await downloadStreamSha256(stack.s3, stack.bucket, manifest), fileSha256);
            assert.equal(summary.assembled?.sha256, fileSha256);
            const whole = await getObject(stack.s3, stack.bucket, summary.assembled!.key);
            assert.equal(whole.length, fs.statSync(file).size);
            // What the upload's integrity check compares (never the ETag, an MD5 of the bytes only
            // without KMS): the stored SHA-256 where the server gives it back (moto 5.2 does not), and
            // each chunk's own bytes in any case.
            for (const chunk of manifest.chunks) {
              const head = await stack.s3.send(
                new HeadObjectCommand({ Bucket: stack.bucket, Key: chunk.key, ChecksumMode: 'ENABLED' }),
              );
              if (server === 'MinIO')
                assert.equal(head.ChecksumSHA256, Buffer.from(chunk.sha256, 'hex').toString('base64'), chunk.key);
              assert.equal(head.ContentLength, chunk.size, chunk.key);
              const bytes = await getObject(stack.s3, stack.bucket, chunk.key);
              assert.equal(createHash('sha256').update(bytes).digest('hex'), chunk.sha256, chunk.key);
            }
          } finally {
            await worker.stop();
          }
        },
      );
  });
}

storageSettingsOn('MinIO', () => startMinio({ kmsKeyName: MINIO_KMS_KEY }), [
  [
    { S3_SSE: 'AES256', S3_STORAGE_CLASS: 'REDUCED_REDUNDANCY' },
    { sse: 'AES256', storageClass: 'REDUCED_REDUNDANCY' },
  ],
  [
    { S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: MINIO_KMS_KEY },
    { sse: 'aws:kms', kmsKeyId: new RegExp(`${MINIO_KMS_KEY}$`) },
  ],
]);

storageSettingsOn('moto', startMoto, [
  [
    { S3_SSE: 'AES256', S3_STORAGE_CLASS: 'ONEZONE_IA' },
    { sse: 'AES256', storageClass: 'ONEZONE_IA' },
  ],
  [
    { S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: 'alias/recordings', S3_STORAGE_CLASS: 'STANDARD_IA' },
    { sse: 'aws:kms', kmsKeyId: /alias\/recordings$/, storageClass: 'STANDARD_IA' },
  ],
]);
