import fs from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE } from './worker';

/**
 * Bundles the workflow code at build time (`npm run build`), as Temporal advises for production:
 * the worker then starts faster and never loads the bundler, which costs it about 100 MB of memory.
 */
async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows') });
  fs.writeFileSync(WORKFLOW_BUNDLE, code);
}

main().catch((err) => {
  process.stderr.write(
    `cannot bundle the workflow code: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
