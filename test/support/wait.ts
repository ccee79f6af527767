/**
 * Polls `check` until it holds. The error says what it waited for (the check's own source) and
 * carries `context()` (e.g. a process's output so far).
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  context: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const awaited = check.toString().replace(/\s+/g, ' ').slice(0, 300);
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${awaited}${context() ? `; context:\n${context()}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
