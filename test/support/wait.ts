/** Polls `check` until it holds; the error carries `context()` (e.g. a process's output so far). */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  context: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting${context() ? `; context:\n${context()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
