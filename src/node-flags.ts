/**
 * Node's flags for the app process, wherever it starts: the Dockerfile's CMD and `npm start`
 * carry copies (test/deploy checks them), the local mode, the bench and the tests pass these.
 *
 * Since Node 22, V8 lets its young generation grow to two 64 MB semi-spaces on a 64-bit host,
 * where Node 20 stopped at two 16 MB ones. The app's garbage is short-lived (requests, records,
 * log lines), so the larger nursery bought nothing here and cost about 100 MB of RSS at 10 live
 * streams (bench/results/issue11.md). 16 MB is Node 20's size.
 */
export const APP_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];
