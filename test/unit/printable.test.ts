import assert from 'node:assert/strict';
import { test } from 'node:test';
import { printable, printableJson } from '../../src/printable';

/** One of each kind a terminal acts on: C0, DEL, C1 (U+009B is CSI) and every bidirectional control. */
const UNPRINTABLE = [
  '\u0000',
  '\u0007',
  '\u001b',
  '\u007f',
  '\u0080',
  '\u009b',
  '\u009f',
  '\u061c',
  '\u200e',
  '\u200f',
  '\u202a',
  '\u202b',
  '\u202c',
  '\u202d',
  '\u202e',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
];
const RAW = new RegExp(`[${UNPRINTABLE.join('')}]`, 'u');

test('names print as text: control characters and bidirectional overrides are escaped, other characters kept', () => {
  assert.equal(printable('cam/live fragmented ü.mp4'), 'cam/live fragmented ü.mp4');
  assert.equal(printable('\u001b[2Jevil\r\n.mp4'), '\\u{1b}[2Jevil\\u{d}\\u{a}.mp4');
  assert.equal(printable('a\u007fb\u0085c'), 'a\\u{7f}b\\u{85}c');
  assert.equal(printable('photo\u202egpj.mp4'), 'photo\\u{202e}gpj.mp4');
  assert.equal(printable('\u009b2J\u061c\u200e\u200f'), '\\u{9b}2J\\u{61c}\\u{200e}\\u{200f}');
  for (const char of UNPRINTABLE)
    assert.doesNotMatch(printable(`a${char}b`), RAW, `U+${char.codePointAt(0)!.toString(16)}`);
  // Next to them, but not controls: a zero-width joiner and an ordinary right-to-left letter.
  assert.equal(printable('\u200d\u05d0'), '\u200d\u05d0');
});

test('JSON prints with every such character escaped, and parses back to the same value', () => {
  const value = { relPath: `cam/${UNPRINTABLE.join('')}.mp4`, nested: [{ name: 'photo\u202egpj.mp4' }], size: 1 };
  for (const indent of [undefined, 2]) {
    const text = printableJson(value, indent);
    assert.doesNotMatch(text, RAW);
    assert.deepEqual(JSON.parse(text), value);
    assert.equal(text.split('\n').length, indent ? JSON.stringify(value, null, indent).split('\n').length : 1);
  }
  assert.equal(printableJson({ name: 'a\u009bb\u202ec' }), '{"name":"a\\u009bb\\u202ec"}');
});
