import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import schema from '../../schema/metadata.schema.json';
import type { Manifest } from '../../src/stream/manifest';

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(schema);

/** Throws with every schema violation listed. */
export function assertValidManifest(manifest: unknown): asserts manifest is Manifest {
  if (!validate(manifest)) throw new Error(`metadata.json breaks its schema: ${ajv.errorsText(validate.errors)}`);
}

export async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

export async function readManifestObject(s3: S3Client, bucket: string, key: string): Promise<Manifest> {
  const manifest: unknown = JSON.parse((await getObject(s3, bucket, key)).toString('utf8'));
  assertValidManifest(manifest);
  return manifest;
}

/**
 * Verifies a stream independently of the app: downloads every chunk the manifest lists, in index
 * order, and hashes the concatenation.
 */
export async function downloadStreamSha256(s3: S3Client, bucket: string, manifest: Manifest): Promise<string> {
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
export async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<{ key: string; etag: string }[]> {
  const objects: { key: string; etag: string }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    objects.push(...(page.Contents ?? []).map((object) => ({ key: object.Key!, etag: object.ETag ?? '' })));
    token = page.NextContinuationToken;
  } while (token);
  return objects;
}
