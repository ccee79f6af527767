import { Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WEBHOOK_ATTEMPTS } from '../stream/completion-webhook';
import { FailureType } from '../stream/failures';
import type { Manifest } from '../stream/manifest';
import type { StreamRef } from '../stream/types';
import { type ActivityDeps } from './activity-deps';
import { streamLogFields } from '../stream/identity';
import { failure } from './failures';
import { readManifest } from './store/manifest-store';

const TIMEOUT_MS = 10_000;

/**
 * POSTs a final manifest to the consumer's webhook. A 2xx is delivered; a redirect (never
 * followed: the manifest goes to the configured host only) or a 4xx other than 408 and 429 is
 * rejected, non-retryable; anything else throws for Temporal to retry, a bounded number of times.
 * Credentials in the URL (`user:password@`) go in a Basic `Authorization` header, as browsers
 * send them. The URL is never put in an error or a log: it may carry a token.
 */
export async function postManifest(url: string, manifest: Manifest, signal?: AbortSignal): Promise<number> {
  const target = new URL(url);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'stream-uploader' };
  if (target.username || target.password) {
    const credentials = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.Authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  const response = await fetch(target, {
    method: 'POST',
    headers,
    body: JSON.stringify(manifest),
    redirect: 'manual',
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  }).catch((err: Error) => {
    throw new Error(`completion webhook unreachable: ${err.name}`);
  });
  // The answer's body is not read: a consumer cannot make the worker hold an unbounded one.
  await response.body?.cancel();
  if (response.ok) return response.status;
  const healable = response.status >= 500 || response.status === 408 || response.status === 429;
  if (healable) throw new Error(`completion webhook answered ${response.status}`);
  throw failure(
    FailureType.WebhookRejected,
    response.status < 400
      ? `completion webhook answered ${response.status}, a redirect, which is not followed: configure the final URL`
      : `completion webhook refused the manifest: ${response.status}`,
  );
}

/**
 * Sends the stream's final manifest to COMPLETION_WEBHOOK_URL (see `postManifest`), counting the
 * outcome: `delivered`, `rejected` (not retried), `failed` (an attempt that is retried) or
 * `given_up` (the last attempt failed: the consumer was not told).
 */
export async function notifyCompletion(deps: ActivityDeps, stream: StreamRef): Promise<void> {
  const { completionWebhookUrl, metrics } = deps;
  if (!completionWebhookUrl) {
    log.warn('no COMPLETION_WEBHOOK_URL on this worker: completion not notified', streamLogFields(stream));
    return;
  }
  const stored = await readManifest(deps, stream.prefix);
  if (!stored) throw new Error(`no manifest for ${stream.streamId} to notify`);
  try {
    const status = await postManifest(completionWebhookUrl, stored.manifest, Context.current().cancellationSignal);
    metrics.completionWebhook.inc({ outcome: 'delivered' });
    log.info('completion webhook notified', { ...streamLogFields(stream), httpStatus: status });
  } catch (err) {
    const lastAttempt = Context.current().info.attempt >= WEBHOOK_ATTEMPTS;
    metrics.completionWebhook.inc({
      outcome: err instanceof ApplicationFailure ? 'rejected' : lastAttempt ? 'given_up' : 'failed',
    });
    throw err;
  }
}
