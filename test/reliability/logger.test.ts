import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, TemporalPinoLogger } from '../../src/logger';

/**
 * Regression test for what the reliability suite found in the logs (sigterm scenario,
 * docs/reliability.md): an activity that failed over and over was logged as "Activity failed"
 * with `"error":{}`, so the log never said why.
 */
test("the Temporal SDK's failure lines carry the error's message", () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(data: Buffer, _encoding, done) {
      lines.push(data.toString());
      done();
    },
  });
  const logger = new TemporalPinoLogger(createLogger('info', sink));
  logger.warn('Activity failed', { activityType: 'writeManifest', error: new Error('no record of chunk 1 (of 8)') });
  const line = JSON.parse(lines.join('')) as Record<string, unknown>;
  assert.match(JSON.stringify(line), /no record of chunk 1 \(of 8\)/);
});
