import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../scripts/local-servers';
import { startApp } from '../support/app-process';
import { makeMp4 } from '../support/media';
import { startRig, type Rig } from '../reliability/rig';

/**
 * Credentials never reach the app's output, stdout (the JSON log) or stderr: not the S3 secret
 * key the app works with, not a wrong one S3 refuses, not the completion webhook's password or
 * token. The app runs at LOG_LEVEL=debug, S3 refusing its requests, a recording going through.
 */
describe('secrets stay out of the output', () => {
  let rig: Rig;
  const webhookPassword = 'webhook-pass-5c1d';
  const webhookToken = 'webhook-token-9e2a';
  const wrongSecret = 'wrong-secret-access-key-77f3';

  before(async () => {
    const hook = `http://consumer:${webhookPassword}@127.0.0.1:${await freePort()}/hook?token=${webhookToken}`;
    rig = await startRig({ name: 'secrets', env: { LOG_LEVEL: 'debug', COMPLETION_WEBHOOK_URL: hook } });
  });
  after(async () => rig?.stop(!!process.env.KEEP));

  test('at debug level, through an upload, a refused secret key and an unreachable webhook', async () => {
    const source = path.join(rig.dir, 'source.mp4');
    await makeMp4(source, { seconds: 2, kind: 'regular' });
    // A secret key S3 refuses: every request fails with SignatureDoesNotMatch, and is logged.
    const refusedLog = path.join(rig.dir, 'refused.log');
    const refused = startApp({ ...rig.env, AWS_SECRET_ACCESS_KEY: wrongSecret }, refusedLog);
    try {
      await refused.waitForLog((line) => line.msg === 'stream-uploader started');
      fs.copyFileSync(source, path.join(rig.watchDir, 'refused.mp4'));
      await refused.waitForLog(
        (line) => /SignatureDoesNotMatch|AccessDenied|blocked/.test(JSON.stringify(line)),
        60_000,
      );
    } finally {
      await refused.stop('SIGTERM');
    }
    // The right key: the recording goes up, and the webhook (nothing listens) is tried.
    rig.startApp();
    await rig.app.waitForLog((line) => line.msg === 'stream-uploader started');
    fs.copyFileSync(source, path.join(rig.watchDir, 'accepted.mp4'));
    await rig.app.waitForLog((line) => line.msg === 'manifest written' && line.status === 'complete', 60_000);
    await rig.app.waitForLog((line) => /completion webhook/.test(JSON.stringify(line)), 60_000);
    await rig.app.stop('SIGTERM');

    const output = fs.readFileSync(refusedLog, 'utf8') + fs.readFileSync(path.join(rig.dir, 'app.log'), 'utf8');
    const secretKey = rig.env.AWS_SECRET_ACCESS_KEY;
    for (const [name, secret] of Object.entries({ secretKey, wrongSecret, webhookPassword, webhookToken }))
      assert.equal(output.includes(secret), false, `${name} appears in the app's stdout or stderr`);
    assert.match(output, /SignatureDoesNotMatch|AccessDenied/, 'the refusal itself is logged');
  });
});
