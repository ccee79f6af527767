import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { toolPath } from '../../scripts/local-servers';

export const HISTORIES_DIR = path.resolve(__dirname, '..', 'fixtures', 'histories');

/**
 * With RECORD_HISTORIES=1, keeps a finished workflow's history (as `temporal workflow show
 * --output json` prints it) as a replay fixture. The replay test runs every fixture against the
 * current workflow code, so a change that would break running streams (non-determinism) fails CI.
 * Re-record only for a deliberate, versioned change. `runId` picks a run other than the latest
 * (the first of a stream that continued as new).
 */
export function recordHistory(handle: WorkflowHandle, temporalAddress: string, name: string, runId?: string): void {
  if (process.env.RECORD_HISTORIES !== '1') return;
  // Fixtures are append-only: an old history must keep replaying as it was recorded.
  const target = path.join(HISTORIES_DIR, `${name}.json`);
  if (fs.existsSync(target)) return;
  const json = execFileSync(
    toolPath('temporal'),
    [
      ...['workflow', 'show', '--address', temporalAddress, '--workflow-id', handle.workflowId, '--output', 'json'],
      ...(runId ? ['--run-id', runId] : []),
    ],
    {
      encoding: 'utf8',
    },
  );
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  fs.writeFileSync(target, json);
}
