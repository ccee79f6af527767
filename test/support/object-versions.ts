import { ListObjectVersionsCommand, PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * The server's own record of every upload, independent of the app: with versioning on, each PUT
 * that succeeded is a version, each delete a delete marker.
 */

export async function enableVersioning(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
}

export interface ObjectVersion {
  key: string;
  versionId: string;
  /** The server's ETag: equal ETags and sizes mean equal bytes. */
  etag: string;
  size: number;
  lastModifiedMs: number;
  deleteMarker: boolean;
}

/** Every version and delete marker under `prefix`, grouped by key, oldest first. */
export async function versionHistory(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<Map<string, ObjectVersion[]>> {
  const byKey = new Map<string, ObjectVersion[]>();
  const add = (version: ObjectVersion) => byKey.set(version.key, [...(byKey.get(version.key) ?? []), version]);
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionIdMarker,
      }),
    );
    for (const v of page.Versions ?? []) {
      add({
        key: v.Key!,
        versionId: v.VersionId!,
        etag: v.ETag ?? '',
        size: v.Size ?? 0,
        lastModifiedMs: v.LastModified!.getTime(),
        deleteMarker: false,
      });
    }
    for (const m of page.DeleteMarkers ?? []) {
      add({
        key: m.Key!,
        versionId: m.VersionId!,
        etag: '',
        size: 0,
        lastModifiedMs: m.LastModified!.getTime(),
        deleteMarker: true,
      });
    }
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
  // The server lists each key's versions newest first: reversed, a stable sort keeps same-millisecond ones in order.
  for (const versions of byKey.values()) versions.reverse().sort((a, b) => a.lastModifiedMs - b.lastModifiedMs);
  return byKey;
}

export interface UploadCounts {
  /** Versions stored in all. */
  uploads: number;
  /** Versions with the same bytes as the version they replaced: an upload of what was already there. */
  duplicates: ObjectVersion[];
  /** Versions with other bytes than the version they replaced: the source had changed. */
  rewrites: ObjectVersion[];
}

/**
 * Sorts the stored versions of the keys `counted` selects. A version after a delete marker replaces
 * nothing: the object had been removed, so sending it again was no duplicate.
 */
export function countUploads(history: Map<string, ObjectVersion[]>, counted: (key: string) => boolean): UploadCounts {
  const counts: UploadCounts = { uploads: 0, duplicates: [], rewrites: [] };
  for (const [key, versions] of history) {
    if (!counted(key)) continue;
    let previous: ObjectVersion | undefined;
    for (const version of versions) {
      if (version.deleteMarker) {
        previous = undefined;
        continue;
      }
      counts.uploads++;
      if (previous && previous.etag === version.etag && previous.size === version.size) counts.duplicates.push(version);
      else if (previous) counts.rewrites.push(version);
      previous = version;
    }
  }
  return counts;
}
