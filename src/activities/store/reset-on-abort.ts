import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

/** The HTTP requests started by the work running in this context. */
const startedRequests = new AsyncLocalStorage<Set<ClientRequest>>();

diagnosticsChannel.subscribe('http.client.request.start', (message) => {
  startedRequests.getStore()?.add((message as { request: ClientRequest }).request);
});

/**
 * Runs `send` (an SDK call given the same `signal`) so that an abort resets the connections of its
 * requests. The SDK ends an aborted request by closing its socket, with a FIN: the kernel still
 * delivers every body byte it holds, and once the link flows the server can store the object the
 * app gave up on (a chunk of a cancelled stream, after the manifest that leaves it out). A reset
 * discards those bytes, so the server never sees the request whole.
 */
export async function resetOnAbort<T>(signal: AbortSignal, send: () => Promise<T>): Promise<T> {
  const requests = new Set<ClientRequest>();
  const reset = () => {
    for (const request of requests) request.socket?.resetAndDestroy();
  };
  // Added before the SDK adds its own, so it runs first: the SDK's would close the socket.
  signal.addEventListener('abort', reset, { once: true });
  try {
    return await startedRequests.run(requests, send);
  } finally {
    signal.removeEventListener('abort', reset);
  }
}
