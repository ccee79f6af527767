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
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

export const NON_RETRYABLE_FAILURES: readonly FailureType[] = Object.values(FailureType);
