import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ManifestWithChunks } from '../../src/stream/manifest';
import { getObject, readManifestObject } from './bucket';
import { versionHistory } from './object-versions';
import { waitUntil } from './wait';

/**
 * What the bucket must keep of one stream, checked from outside the app: every chunk a finalized
 * revision listed, until a later complete revision supersedes it. Fed with each manifest the test
 * reads; a revision it never saw is not held against the bucket. With versioning on in the bucket,
 * a complete revision the test did not see still counts: every version of metadata.json is read.
 */
export class KeptBytes {
  /** Chunk objects that must stay, by key: their SHA-256, and the revision that listed them. */
  private readonly kept = new Map<string, { sha256: string; revision: number; index: number }>();
  /** The newest complete revision seen. */
  private completeRevision = 0;

  observe(manifest: ManifestWithChunks): void {
    if (manifest.status === 'recording' || manifest.revision < this.completeRevision) return;
    if (manifest.status === 'complete' && manifest.revision > this.completeRevision) {
      this.completeRevision = manifest.revision;
      for (const [key, chunk] of this.kept) if (chunk.revision < manifest.revision) this.kept.delete(key);
    }
    for (const chunk of manifest.chunks)
      this.kept.set(chunk.key, { sha256: chunk.sha256, revision: manifest.revision, index: chunk.index });
  }

  /** Problems: kept chunks missing from the bucket or holding other bytes. */
  async check(s3: S3Client, bucket: string, streamPrefix: string): Promise<string[]> {
    const manifests = await manifestVersions(s3, bucket, streamPrefix);
    for (const [key, chunk] of this.kept)
      if (manifests.some((manifest) => manifest.status === 'complete' && (manifest.revision ?? 0) > chunk.revision))
        this.kept.delete(key);
    const problems: string[] = [];
    for (const [key, chunk] of this.kept) {
      const found = await sha256Of(s3, bucket, key);
      if (found !== chunk.sha256)
        problems.push(
          `chunk ${chunk.index} of revision ${chunk.revision} (${key}) ${found ? 'holds other bytes' : 'is gone'}; ${await story(s3, bucket, key, manifests)}`,
        );
    }
    return problems;
  }
}

/** The stream's manifest with its chunks, or null when it has none yet. */
export async function readStreamManifest(
  s3: S3Client,
  bucket: string,
  streamPrefix: string,
): Promise<ManifestWithChunks | null> {
  try {
    return await readManifestObject(s3, bucket, `${streamPrefix}/metadata.json`);
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    throw err;
  }
}

/** Waits (up to 90 s) until the stream's manifest satisfies `done`; the error shows the last one read. */
export async function waitForManifest(
  s3: S3Client,
  bucket: string,
  streamPrefix: string,
  done: (manifest: ManifestWithChunks) => boolean,
): Promise<ManifestWithChunks> {
  let found: ManifestWithChunks | null = null;
  await waitUntil(
    async () => {
      found = await readStreamManifest(s3, bucket, streamPrefix);
      return !!found && done(found);
    },
    90_000,
    () => {
      const last = found && { status: found.status, revision: found.revision, localFile: found.localFile };
      return `last manifest: ${JSON.stringify(last)}`;
    },
  );
  return found!;
}

/** Problems: chunks the manifest lists that are missing or differ from their SHA-256. */
export async function checkListedChunks(s3: S3Client, bucket: string, manifest: ManifestWithChunks): Promise<string[]> {
  const problems: string[] = [];
  for (const chunk of manifest.chunks) {
    const found = await sha256Of(s3, bucket, chunk.key);
    if (found !== chunk.sha256)
      problems.push(
        `revision ${manifest.revision} (${manifest.status}) lists chunk ${chunk.index} (${chunk.key}), which ${found ? 'holds other bytes' : 'is gone'}`,
      );
  }
  return problems;
}

async function sha256Of(s3: S3Client, bucket: string, key: string): Promise<string | null> {
  try {
    return createHash('sha256')
      .update(await getObject(s3, bucket, key))
      .digest('hex');
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    throw err;
  }
}

interface ManifestVersion {
  status?: string;
  revision?: number;
  chunkCount?: number;
  lastModifiedMs: number;
}

/** Every version of the stream's metadata.json, oldest first (only the current one without versioning). */
async function manifestVersions(s3: S3Client, bucket: string, streamPrefix: string): Promise<ManifestVersion[]> {
  const key = `${streamPrefix}/metadata.json`;
  const versions: ManifestVersion[] = [];
  for (const version of (await versionHistory(s3, bucket, key)).get(key) ?? []) {
    if (version.deleteMarker) continue;
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: version.versionId }));
    const manifest = JSON.parse(await object.Body!.transformToString('utf8')) as Omit<
      ManifestVersion,
      'lastModifiedMs'
    >;
    versions.push({ ...manifest, lastModifiedMs: version.lastModifiedMs });
  }
  return versions.sort((a, b) => a.lastModifiedMs - b.lastModifiedMs);
}

/** What happened to a chunk object, next to the manifests written around it: for the report. */
async function story(s3: S3Client, bucket: string, key: string, manifests: ManifestVersion[]): Promise<string> {
  const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);
  const chunk = ((await versionHistory(s3, bucket, key)).get(key) ?? []).map(
    (version) => `${version.deleteMarker ? 'deleted' : 'stored'} ${time(version.lastModifiedMs)}`,
  );
  const written = manifests.map(
    (manifest) =>
      `${time(manifest.lastModifiedMs)} ${manifest.status} r${manifest.revision} (${manifest.chunkCount} chunks)`,
  );
  return `the chunk: ${chunk.join(', ') || 'no version'}; metadata.json: ${written.join(', ')}`;
}
