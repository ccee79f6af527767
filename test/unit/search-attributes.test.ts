import assert from 'node:assert/strict';
import { test } from 'node:test';
import { visibilityString } from '../../src/stream/search-attributes';

test('a string becomes one literal of a visibility query, whatever quotes and backslashes it holds', () => {
  assert.equal(visibilityString('cam/one.mp4'), "'cam/one.mp4'");
  assert.equal(visibilityString("it's"), "'it\\'s'");
  assert.equal(visibilityString("a\\' OR '1' = '1"), "'a\\\\\\' OR \\'1\\' = \\'1'");
});
