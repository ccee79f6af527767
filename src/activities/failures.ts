import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../stream/failures';

const FILE_ERRORS: Record<string, FailureType> = {
  ENOENT: FailureType.FileGone,
  EACCES: FailureType.PermissionDenied,
  EPERM: FailureType.PermissionDenied,
  EISDIR: FailureType.InvalidPath,
  // A symlink where the file was (files are opened without following one).
  ELOOP: FailureType.FileReplaced,
};

const S3_ERRORS: Record<string, FailureType> = {
  NoSuchBucket: FailureType.BucketMissing,
  AccessDenied: FailureType.AccessDenied,
  InvalidAccessKeyId: FailureType.AccessDenied,
  SignatureDoesNotMatch: FailureType.AccessDenied,
  Forbidden: FailureType.AccessDenied,
};

/**
 * 4xx answers that a retry can heal: the server timed out reading the request, throttled it, or
 * the body changed between hashing and sending (the next attempt hashes it again).
 */
const RETRYABLE_S3_CODES = new Set([
  'RequestTimeout',
  'SlowDown',
  'BadDigest',
  'InvalidDigest',
  'XAmzContentSHA256Mismatch',
  'XAmzContentChecksumMismatch',
  'IncompleteBody',
]);
const RETRYABLE_HTTP_STATUSES = new Set([408, 429]);

export function failure(type: FailureType, message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/**
 * Sorts an error into "cannot heal" (non-retryable, reported by the workflow) or "may heal"
 * (network, 5xx, throttling: rethrown for Temporal to retry with back-off). The message names the
 * S3 error code but never echoes request headers, so credentials cannot leak into history.
 */
export function classify(err: unknown): Error {
  if (err instanceof ApplicationFailure) return err;
  const error = err as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
  const fileFailure = error.code ? FILE_ERRORS[error.code] : undefined;
  if (fileFailure) return failure(fileFailure, error.message);
  const status = error.$metadata?.httpStatusCode;
  const s3Failure = S3_ERRORS[error.name] ?? (status === 403 ? FailureType.AccessDenied : undefined);
  if (s3Failure) return failure(s3Failure, `S3 answered ${error.name}: ${error.message}`);
  const rejected =
    status !== undefined &&
    status >= 400 &&
    status < 500 &&
    !RETRYABLE_HTTP_STATUSES.has(status) &&
    !RETRYABLE_S3_CODES.has(error.name);
  if (rejected) return failure(FailureType.S3Rejected, `S3 answered ${status} ${error.name}: ${error.message}`);
  return error instanceof Error ? error : new Error(String(err));
}
