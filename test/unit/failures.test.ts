import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { classify } from '../../src/activities/failures';

/** An error shaped as the AWS SDK throws it: the S3 code as its name, the HTTP status in $metadata. */
const s3Error = (name: string, httpStatusCode: number) =>
  Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode } });
const fileError = (code: string) => Object.assign(new Error(`${code}: at the file`), { code });

/** The failure type when the error cannot heal; 'retry' when Temporal should try again. */
function outcome(err: unknown): string {
  const classified = classify(err);
  return classified instanceof ApplicationFailure && classified.nonRetryable ? classified.type! : 'retry';
}

test('errors an operator must fix are non-retryable and typed, so the stream blocks with the reason', () => {
  assert.equal(outcome(s3Error('NoSuchBucket', 404)), 'BucketMissing');
  assert.equal(outcome(s3Error('AccessDenied', 403)), 'AccessDenied');
  assert.equal(outcome(s3Error('InvalidAccessKeyId', 403)), 'AccessDenied');
  assert.equal(outcome(s3Error('SignatureDoesNotMatch', 403)), 'AccessDenied');
  assert.equal(outcome(s3Error('Unknown', 403)), 'AccessDenied', 'a bare 403, as a HEAD gets it');
  assert.equal(outcome(fileError('EACCES')), 'PermissionDenied');
  assert.equal(outcome(fileError('EPERM')), 'PermissionDenied');
});

test('a 4xx that no retry can heal is rejected: a key too long, a wrong region, a name the server refuses', () => {
  assert.equal(outcome(s3Error('KeyTooLongError', 400)), 'S3Rejected');
  assert.equal(outcome(s3Error('AuthorizationHeaderMalformed', 400)), 'S3Rejected');
  assert.equal(outcome(s3Error('XMinioInvalidObjectName', 400)), 'S3Rejected');
  assert.equal(outcome(s3Error('EntityTooLarge', 400)), 'S3Rejected');
});

test('network errors, 5xx, throttling, timeouts and checksum mismatches are retried', () => {
  assert.equal(outcome(s3Error('InternalError', 500)), 'retry');
  assert.equal(outcome(s3Error('ServiceUnavailable', 503)), 'retry');
  assert.equal(outcome(s3Error('SlowDown', 503)), 'retry');
  assert.equal(outcome(s3Error('TooManyRequests', 429)), 'retry');
  assert.equal(outcome(s3Error('RequestTimeout', 400)), 'retry');
  assert.equal(outcome(s3Error('Unknown', 408)), 'retry');
  assert.equal(outcome(s3Error('BadDigest', 400)), 'retry', 'the file was rewritten between the hash and the send');
  assert.equal(outcome(s3Error('XAmzContentSHA256Mismatch', 400)), 'retry');
  assert.equal(outcome(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'retry');
  assert.equal(outcome(new Error('timeout')), 'retry');
});

test('a file deleted or replaced fails the stream; one already classified passes through unchanged', () => {
  assert.equal(outcome(fileError('ENOENT')), 'FileGone');
  assert.equal(outcome(fileError('ELOOP')), 'FileReplaced', 'a symlink where the file was, not followed');
  const already = ApplicationFailure.nonRetryable('x is now another file', 'FileReplaced');
  assert.equal(classify(already), already);
});
