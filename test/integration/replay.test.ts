import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR } from '../support/histories';

/**
 * Every recorded history, by the branch of the workflow it takes. Fixtures are append-only: one
 * that goes missing fails here, and a new one must be listed, so the set a release replays is the
 * set it says it does.
 */
const REQUIRED_HISTORIES = {
  // Real servers (stream-workflow, consumers, settled-chunks and cancel-in-flight tests).
  regular: 'a regular MP4 uploaded byte for byte, with its media duration',
  rewritten: 'a file rewritten after its chunks went up (+faststart)',
  deleted: 'the file deleted mid-stream: a failed manifest',
  'already-complete': 'a finished, unchanged stream started again: nothing uploaded',
  assembled: 'ASSEMBLE=true',
  'webhook-retried': 'the completion webhook retried until accepted',
  'webhook-refused': 'the completion webhook refused: not retried',
  'backlog-completed-by-follow': 'a finished recording completed by its follow, read once',
  'live-completed-by-follow': 'a live MP4 checked while quiet, completed by its follow',
  'cancelled-during-follow': 'a cancel aborts the PUT of the follow',
  // Recorded by earlier releases: the streams they ran must still replay.
  'before-follow-regular': 'a stream of the release before follows (no follow-file patch)',
  'before-follow-rewritten': 'the same, chunks rewritten',
  'before-follow-deleted': 'the same, the file deleted',
  'before-follow-already-complete': 'the same, already complete',
  'completed-by-follow': 'a follow completing the stream, before idle files were followed',
  'checked-while-quiet': 'a live file checked while quiet, before idle files were followed',
  // Stub activities (test/workflow/stream-upload.test.ts).
  'branch-blocked-then-resumed': 'openStream blocked, resumed by the operator',
  'branch-follow-blocked-then-resumed': 'a follow blocked, resumed by the operator',
  'branch-paused-then-resumed': 'a pause cancels the follow, a resume follows again',
  'branch-paused-before-follow': 'paused from the start, before any follow',
  'branch-paused-follow-timed-out': 'a paused follow timed out (its worker died): patch paused-follow-ends',
  'branch-resumed-before-follow-stopped': 'a resume before the paused follow stopped: patch paused-follow-ends',
  'branch-shrank': 'the file shrank under uploaded chunks',
  'branch-replanned-after-truncation': 'a chunk cut short during its upload (FileTruncated): re-planned',
  'branch-continued-as-new': 'a long stream, the run after continue-as-new',
  'branch-continued-as-new-first-run': 'a long stream, the run that continued as new',
  'branch-continued-as-new-before-follow': 'continue-as-new before the first follow',
  'branch-new-revision-after-complete': 'written to as it completed: a new revision',
  'branch-finalize-abandoned-for-pause': 'the final check abandoned for a pause',
  'branch-finalize-abandoned-for-change': 'the final check abandoned for a change',
  'branch-cancelled-during-check': 'a cancel during the final check',
  'branch-cancelled-check-timed-out': 'a cancelled final check timed out (its worker died): patch cancelled-by-timeout',
  'branch-cancelled-while-paused': 'a cancel while paused',
  'branch-cancelled-while-blocked': 'a cancel while blocked',
  'branch-check-failed-while-cancelled':
    'a cancel reaching a final check that fails (FileGone): patch cancelled-by-timeout',
  'branch-durable-timer': 'no follow: the durable idle timer ends the stream',
  'branch-webhook-after-follow': 'the completion webhook after a follow completed the stream',
  'branch-deleted-after-upload': 'AFTER_UPLOAD=delete: patch delete-after-upload',
};

test('recorded stream histories replay on the current workflow code (determinism)', async () => {
  const files = fs.readdirSync(HISTORIES_DIR).filter((file) => file.endsWith('.json'));
  assert.deepEqual(
    files.map((file) => path.basename(file, '.json')).sort(),
    Object.keys(REQUIRED_HISTORIES).sort(),
    `the fixtures in ${HISTORIES_DIR} are the listed ones`,
  );
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
