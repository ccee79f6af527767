import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable } from '../../src/printable';

test('names print as text: control characters and bidirectional overrides are escaped, other characters kept', () => {
  assert.equal(printable('cam/live fragmented ü.mp4'), 'cam/live fragmented ü.mp4');
  assert.equal(printable('\u001b[2Jevil\r\n.mp4'), '\\u{1b}[2Jevil\\u{d}\\u{a}.mp4');
  assert.equal(printable('a\u007fb\u0085c'), 'a\\u{7f}b\\u{85}c');
  assert.equal(printable('photo\u202egpj.mp4'), 'photo\\u{202e}gpj.mp4');
});
