import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from '../support/histories';

test('recorded stream histories replay on the current workflow code (determinism)', async () => {
  const files = fs.readdirSync(HISTORIES_DIR).filter((file) => file.endsWith('.json'));
  assert.ok(files.length >= 3, `replay fixtures in ${HISTORIES_DIR}`);
  const histories = files.map((file) => ({
    workflowId: path.basename(file, '.json'),
    history: JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')),
  }));
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowsPath: require.resolve('../../src/workflows') },
    histories,
  )) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  assert.deepEqual(failures, []);
});
