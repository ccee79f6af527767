import { HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';

/** The object's HEAD with its stored checksum, or null when the bucket has no object at `key`. */
export async function headObject(
  s3: S3Client,
  bucket: string,
  key: string,
  signal: AbortSignal,
): Promise<HeadObjectCommandOutput | null> {
  try {
    return await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }), {
      abortSignal: signal,
    });
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return null;
    throw err;
  }
}

/** Whether the server checked and stored exactly these bytes: their size and SHA-256 (hex). */
export function storedWithChecksum(head: HeadObjectCommandOutput, size: number, sha256: string): boolean {
  return head.ContentLength === size && head.ChecksumSHA256 === Buffer.from(sha256, 'hex').toString('base64');
}
