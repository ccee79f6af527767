import type { Manifest } from '../stream/manifest';

const TIMEOUT_MS = 10_000;

/**
 * POSTs a final manifest to the consumer's webhook. Any answer but 2xx throws, and Temporal
 * retries with back-off. The URL is never put in an error or a log: it may carry a token.
 */
export async function postManifest(url: string, manifest: Manifest, signal?: AbortSignal): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'User-Agent': 'stream-uploader' },
    body: JSON.stringify(manifest),
    signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]) : AbortSignal.timeout(TIMEOUT_MS),
  }).catch((err: Error) => {
    throw new Error(`completion webhook unreachable: ${err.name}`);
  });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`completion webhook answered ${response.status}`);
  return response.status;
}
