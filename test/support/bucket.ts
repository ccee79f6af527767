import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import schema from '../../schema/metadata.schema.json';
import type { ChunkRecordPage, Manifest, ManifestWithChunks } from '../../src/stream/manifest';
import type { S3Server } from '../../scripts/s3-servers';
import { waitUntil } from './wait';

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);
const validatePage = ajv.getSchema(`${schema.$id}#/$defs/chunkRecordPage`)!;

/** The app's variables for `bucket` on `minio`. */
export function s3Env(minio: S3Server, bucket: string): Record<string, string> {
  return {
    S3_ENDPOINT: minio.endpoint,
    S3_REGION: minio.region,
    S3_BUCKET: bucket,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: minio.accessKeyId,
    AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
  };
}

/** Throws with every schema violation listed. */
export function assertValidManifest(manifest: unknown): asserts manifest is Manifest {
  if (!validate(manifest)) throw new Error(`metadata.json breaks its schema: ${ajv.errorsText(validate.errors)}`);
}

function assertValidPage(page: unknown, key: string): asserts page is ChunkRecordPage {
  if (!validatePage(page)) throw new Error(`${key} breaks its schema: ${ajv.errorsText(validatePage.errors)}`);
}

export async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

/**
 * A manifest and every chunk record, read as a consumer reads them: metadata.json, then its pages,
 * then metadata.json again. A writer may rewrite a page between the first two reads (a complete
 * revision of a file that shrank lists fewer chunks): when metadata.json changed meanwhile, the
 * whole read starts again.
 */
export async function readManifestObject(s3: S3Client, bucket: string, key: string): Promise<ManifestWithChunks> {
  for (let attempt = 1; ; attempt++) {
    const text = (await getObject(s3, bucket, key)).toString('utf8');
    const read = await withChunkRecords(s3, bucket, key, text).catch((err: Error) => err);
    if ((await getObject(s3, bucket, key)).toString('utf8') === text || attempt === 10) {
      if (read instanceof Error) throw read;
      return read;
    }
  }
}

async function withChunkRecords(s3: S3Client, bucket: string, key: string, text: string): Promise<ManifestWithChunks> {
  const manifest: unknown = JSON.parse(text);
  assertValidManifest(manifest);
  const { keyPrefix, perPage, pages } = manifest.chunkRecords;
  const chunks = [];
  for (let page = 0; page < pages; page++) {
    const pageKey = `${keyPrefix}${String(page).padStart(6, '0')}.json`;
    const contents: unknown = JSON.parse((await getObject(s3, bucket, pageKey)).toString('utf8'));
    assertValidPage(contents, pageKey);
    if (contents.page !== page || contents.streamId !== manifest.streamId)
      throw new Error(`${pageKey} is page ${contents.page} of ${contents.streamId}`);
    chunks.push(...contents.chunks.slice(0, Math.min(perPage, manifest.chunkCount - page * perPage)));
  }
  if (chunks.length !== manifest.chunkCount)
    throw new Error(`${key} counts ${manifest.chunkCount} chunks; its pages hold ${chunks.length}`);
  return { ...manifest, chunks };
}

/**
 * Waits until the stream's metadata.json says `complete`; returns it with every chunk record.
 * `context` is added to the error on timeout (e.g. where the logs are).
 */
export async function waitForCompleteManifest(
  s3: S3Client,
  bucket: string,
  streamPrefix: string,
  timeoutMs: number,
  context?: () => string,
): Promise<ManifestWithChunks> {
  let manifest: ManifestWithChunks | undefined;
  await waitUntil(
    async () => {
      try {
        manifest = await readManifestObject(s3, bucket, `${streamPrefix}/metadata.json`);
      } catch (err) {
        if ((err as { name?: string }).name !== 'NoSuchKey') throw err;
      }
      return manifest?.status === 'complete';
    },
    timeoutMs,
    context,
  );
  return manifest!;
}

/** metadata.json alone, as stored. */
export async function readManifestHead(s3: S3Client, bucket: string, key: string): Promise<Manifest> {
  const manifest: unknown = JSON.parse((await getObject(s3, bucket, key)).toString('utf8'));
  assertValidManifest(manifest);
  return manifest;
}

/**
 * Verifies a stream independently of the app: downloads every chunk the manifest lists, in index
 * order, and hashes the concatenation.
 */
export async function downloadStreamSha256(
  s3: S3Client,
  bucket: string,
  manifest: Pick<ManifestWithChunks, 'chunks'>,
): Promise<string> {
  const hash = createHash('sha256');
  manifest.chunks.forEach((chunk, position) => {
    if (chunk.index !== position) throw new Error(`chunk ${chunk.index} stands at position ${position}`);
  });
  for (const chunk of manifest.chunks) hash.update(await getObject(s3, bucket, chunk.key));
  return hash.digest('hex');
}

export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  return (await listObjects(s3, bucket, prefix)).map((object) => object.key).sort();
}

/** Keys with their ETags: a changed ETag tells a poller which objects to read again. */
export async function listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ key: string; etag: string }[]> {
  const objects: { key: string; etag: string }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    objects.push(...(page.Contents ?? []).map((object) => ({ key: object.Key!, etag: object.ETag ?? '' })));
    token = page.NextContinuationToken;
  } while (token);
  return objects;
}

/** Whether `key` is in `bucket` (a HEAD; 404 is no). */
export async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}
