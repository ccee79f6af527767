import fs from 'node:fs';
import path from 'node:path';
import { DeleteObjectsCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Manifest } from '../src/stream/manifest';
import type { ChunkRecord } from '../src/stream/types';
import { streamRef } from '../src/stream/identity';
import { manifestKey } from '../src/stream/object-keys';
import { getObject, listKeys, readManifestObject } from '../test/support/bucket';

/**
 * What the bench sees in the bucket, independently of the app: when an object first exists, and
 * when a stream's manifest says it is complete. Polled with HEAD requests on the keys awaited (not
 * listings), so that watching fifty streams costs the S3 server little; a figure read this way is
 * late by at most one polling interval plus one request.
 */

/**
 * The manifest fields the bench reads; any version of the app writes at least these. The chunk
 * records are in metadata.json (schema 1) or in its pages (schema 2).
 */
export type ManifestView = Pick<Manifest, 'status' | 'totalSize' | 'chunkCount'> & { chunks: ChunkRecord[] };

export interface StreamTarget {
  relPath: string;
  /** The stream's prefix in the bucket (S3_PREFIX/relPath/inode-birth). */
  prefix: string;
  workflowId: string;
  /** The file's final size: a complete manifest of fewer bytes is an early one, not the end. */
  bytes: number;
}

/** Names the stream the app makes of a file, as the app itself derives them. */
export function streamTarget(watchDir: string, file: string, s3Prefix: string): StreamTarget {
  const stats = fs.statSync(file);
  const relPath = path.relative(watchDir, file).split(path.sep).join('/');
  const ref = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, s3Prefix);
  return { relPath, prefix: ref.prefix, workflowId: ref.workflowId, bytes: stats.size };
}

export interface PollOptions {
  intervalMs: number;
  /** Rejects to abandon the wait (the app crashed, the section timed out). */
  abort: Promise<never>;
}

async function head(s3: S3Client, bucket: string, key: string): Promise<string | null> {
  try {
    return (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag ?? '';
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
}

async function poll<T>(options: PollOptions, attempt: () => Promise<T | null>): Promise<T> {
  let aborted = false;
  options.abort.catch(() => (aborted = true));
  const loop = async (): Promise<T> => {
    for (;;) {
      const found = await attempt();
      if (found !== null) return found;
      if (aborted) return new Promise<never>(() => undefined); // the race below has rejected already
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
  };
  return Promise.race([loop(), options.abort]);
}

/** When `key` first exists (ms since the epoch, taken when the HEAD that found it returned). */
export function objectSeenAt(s3: S3Client, bucket: string, key: string, options: PollOptions): Promise<number> {
  return poll(options, async () => ((await head(s3, bucket, key)) !== null ? Date.now() : null));
}

export interface CompleteManifest {
  manifest: ManifestView;
  /** When the complete manifest was first seen (ms since the epoch). */
  seenAt: number;
}

/** Waits for the stream's manifest to be complete with all of the file's bytes; fetched only when its ETag changes. */
export function completeManifest(
  s3: S3Client,
  bucket: string,
  target: StreamTarget,
  options: PollOptions,
): Promise<CompleteManifest> {
  const key = manifestKey(target.prefix);
  let lastEtag: string | null = null;
  return poll(options, async () => {
    const etag = await head(s3, bucket, key);
    if (etag === null || etag === lastEtag) return null;
    lastEtag = etag;
    const manifest = await readManifestView(s3, bucket, key);
    const seenAt = Date.now();
    return isComplete(manifest, target) ? { manifest: await withChunks(s3, bucket, key, manifest), seenAt } : null;
  });
}

type StoredManifest = Omit<ManifestView, 'chunks'> & { chunks?: ChunkRecord[] };

async function readManifestView(s3: S3Client, bucket: string, key: string): Promise<StoredManifest> {
  return JSON.parse((await getObject(s3, bucket, key)).toString('utf8')) as StoredManifest;
}

function isComplete(manifest: StoredManifest, target: StreamTarget): boolean {
  return manifest.status === 'complete' && manifest.totalSize === target.bytes;
}

async function withChunks(s3: S3Client, bucket: string, key: string, manifest: StoredManifest): Promise<ManifestView> {
  return { ...manifest, chunks: manifest.chunks ?? (await readManifestObject(s3, bucket, key)).chunks };
}

/**
 * Waits for the stream's workflow to close, then reads its manifest, which must be complete with
 * all of the file's bytes. One long poll per stream instead of a HEAD every interval: a backlog of
 * twenty streams polled that way cost MinIO about 1,400 requests that the bench charged to the
 * app. The workflow closes right after it writes the complete manifest, so `seenAt` is at most one
 * workflow task late, where a poll is up to an interval late.
 */
export async function closedWithManifest(
  client: Client,
  s3: S3Client,
  bucket: string,
  target: StreamTarget,
  abort: Promise<never>,
): Promise<CompleteManifest> {
  // The watcher starts the workflow when it sees the file: until then there is nothing to wait on.
  const seenAt = await poll({ intervalMs: 100, abort }, async () => {
    try {
      await client.workflow.getHandle(target.workflowId).result();
      return Date.now();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  });
  const key = manifestKey(target.prefix);
  const manifest = await readManifestView(s3, bucket, key);
  if (!isComplete(manifest, target))
    throw new Error(
      `${target.relPath}: the workflow closed with its manifest ${manifest.status} at ${manifest.totalSize} of ${target.bytes} bytes`,
    );
  return { manifest: await withChunks(s3, bucket, key, manifest), seenAt };
}

/** Deletes everything under `prefix`, so a contender's objects do not fill the disk for the next. */
export async function emptyPrefix(s3: S3Client, bucket: string, prefix: string): Promise<void> {
  const keys = await listKeys(s3, bucket, `${prefix}/`);
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
      }),
    );
  }
}
