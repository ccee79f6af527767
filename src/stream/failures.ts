/**
 * Failure types that retrying cannot heal. Activities raise them as non-retryable
 * ApplicationFailures; the workflow reports them instead of retrying forever.
 */
export const FailureType = {
  FileGone: 'FileGone',
  FileReplaced: 'FileReplaced',
  /** The file is shorter than a chunk the workflow asked for: it was truncated or rewritten. */
  FileTruncated: 'FileTruncated',
  PermissionDenied: 'PermissionDenied',
  BucketMissing: 'BucketMissing',
  AccessDenied: 'AccessDenied',
  InvalidPath: 'InvalidPath',
  /** The stream's names (S3 prefix, id) are not those this host derives from its file: see `streamNamesProblem`. */
  InvalidStream: 'InvalidStream',
  /**
   * S3 refused the request for a reason retrying cannot heal (a 4xx other than a timeout,
   * throttling or a checksum mismatch: a key too long, a wrong region, a name the server refuses).
   */
  S3Rejected: 'S3Rejected',
  /** The completion webhook refused the manifest (a 4xx other than 408 and 429, or a redirect). */
  WebhookRejected: 'WebhookRejected',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const NON_RETRYABLE_FAILURES: readonly FailureType[] = Object.values(FailureType);
