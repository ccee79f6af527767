import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { MANIFEST_SCHEMA_VERSION, mergeChunkRecords, type Manifest } from '../stream/manifest';
import type { ChunkRecord } from '../stream/types';
import { chunkIndexOfKey, manifestKey } from '../stream/object-keys';

export interface ManifestStoreDeps {
  s3: S3Client;
  bucket: string;
}

/**
 * The stream's metadata.json, or null when there is none. One that is not a manifest of ours is
 * treated as absent: the stream is then checked and uploaded again, and identical chunks are not
 * re-sent, so nothing is lost by distrusting it.
 */
export async function readManifest(deps: ManifestStoreDeps, streamPrefix: string): Promise<Manifest | null> {
  let text: string;
  try {
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: deps.bucket, Key: manifestKey(streamPrefix) }));
    text = (await object.Body?.transformToString('utf8')) ?? '';
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    throw err;
  }
  try {
    const manifest = JSON.parse(text) as Manifest;
    return manifest.schemaVersion === MANIFEST_SCHEMA_VERSION && Array.isArray(manifest.chunks) ? manifest : null;
  } catch {
    return null;
  }
}

export async function putManifest(deps: ManifestStoreDeps, streamPrefix: string, manifest: Manifest): Promise<void> {
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: manifestKey(streamPrefix),
      Body: JSON.stringify(manifest, null, 2),
      ContentType: 'application/json',
    }),
  );
}

/**
 * Removes chunk objects at or past `chunkCount`, left behind when the file shrank, so that the
 * bucket holds exactly the chunks the manifest lists.
 */
export async function deleteChunksFrom(deps: ManifestStoreDeps, streamPrefix: string, chunkCount: number): Promise<number> {
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await deps.s3.send(
      new ListObjectsV2Command({ Bucket: deps.bucket, Prefix: `${streamPrefix}/chunks/`, ContinuationToken: token }),
    );
    const stale = (page.Contents ?? []).filter((object) => (chunkIndexOfKey(streamPrefix, object.Key ?? '') ?? -1) >= chunkCount);
    if (stale.length > 0) {
      await deps.s3.send(
        new DeleteObjectsCommand({ Bucket: deps.bucket, Delete: { Objects: stale.map((object) => ({ Key: object.Key })) } }),
      );
      deleted += stale.length;
    }
    token = page.NextContinuationToken;
  } while (token);
  return deleted;
}

/**
 * The records of chunks [0, count): the stored manifest's, overlaid by uploads it does not list
 * yet. The stored manifest is read unless the uploads since it cover every index: they can hold
 * one index twice (a tail sent, then sent again whole), so they are not counted.
 */
export async function loadChunkRecords(
  deps: ManifestStoreDeps,
  streamPrefix: string,
  pending: ChunkRecord[],
  count: number,
): Promise<ChunkRecord[]> {
  const pendingIndexes = new Set(pending.map((record) => record.index));
  const covered = Array.from({ length: count }, (_, index) => index).every((index) => pendingIndexes.has(index));
  const stored = covered ? [] : ((await readManifest(deps, streamPrefix))?.chunks ?? []);
  return mergeChunkRecords(stored, pending, count);
}
