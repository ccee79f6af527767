import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addFragment,
  durationSeconds,
  parseMovie,
  readBoxHeader,
  type FragmentDurations,
} from '../../src/activities/file/mp4-boxes';

/** A box from its type and content. */
function box(type: string, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

/** A full box: version, flags, then 32-bit fields. */
function fullBox(type: string, version: number, flags: number, ...fields: number[]): Buffer {
  const body = Buffer.alloc(4 + fields.length * 4);
  body.writeUInt32BE(((version << 24) | flags) >>> 0, 0);
  fields.forEach((field, at) => body.writeUInt32BE(field, 4 + at * 4));
  return box(type, body);
}

const view = (bytes: Buffer) => new DataView(bytes.buffer, bytes.byteOffset, bytes.length);

/** `mvhd`/`mdhd` version 0: creation and modification times, timescale, duration. */
const header = (type: string, timescale: number, duration: number) => fullBox(type, 0, 0, 0, 0, timescale, duration);
/** `tkhd` version 0: times, then the track id. */
const tkhd = (trackId: number) => fullBox('tkhd', 0, 3, 0, 0, trackId, 0, 0);
const trak = (trackId: number, timescale: number, ...stts: Array<[count: number, delta: number]>) =>
  box(
    'trak',
    tkhd(trackId),
    box(
      'mdia',
      header('mdhd', timescale, 0),
      box('minf', box('stbl', fullBox('stts', 0, 0, stts.length, ...stts.flat()))),
    ),
  );
const trex = (trackId: number, defaultDuration: number) => fullBox('trex', 0, 0, trackId, 1, defaultDuration, 0, 0);

function fragments(...moofs: Buffer[]): Map<number, FragmentDurations> {
  const durations = new Map<number, FragmentDurations>();
  for (const moof of moofs) addFragment(view(moof), durations);
  return durations;
}

describe('MP4 duration boxes', () => {
  test('a regular recording: the duration in mvhd', () => {
    const movie = parseMovie(view(box('moov', header('mvhd', 1000, 12_500), trak(1, 90_000, [300, 3600]))));
    assert.equal(durationSeconds(movie, new Map()), 12.5);
  });

  test('a fragmented recording: the longest track over every fragment, durations stated or defaulted', () => {
    const moov = box(
      'moov',
      header('mvhd', 1000, 0),
      trak(1, 12_800),
      trak(2, 48_000),
      box('mvex', trex(1, 512), trex(2, 1024)),
    );
    const movie = parseMovie(view(moov));
    // Video: 25 samples of trex's default 512 (tfhd says nothing, trun states no durations), then
    // 25 of tfhd's 512 with a base data offset and a data offset to skip.
    const video1 = box('traf', fullBox('tfhd', 0, 0, 1), fullBox('trun', 0, 0, 25));
    const video2 = box('traf', fullBox('tfhd', 0, 0x1 | 0x8, 1, 0, 0, 512), fullBox('trun', 0, 0x1, 25, 0));
    // Audio: 2 samples with stated durations and sizes (8 bytes per sample).
    const audio = box('traf', fullBox('tfhd', 0, 0, 2), fullBox('trun', 0, 0x100 | 0x200, 2, 48_000, 10, 24_000, 10));
    const durations = fragments(
      box('moof', fullBox('mfhd', 0, 0, 1), video1, audio),
      box('moof', fullBox('mfhd', 0, 0, 2), video2),
    );
    assert.deepEqual(durations.get(1), { stated: 25 * 512, defaulted: 25 });
    assert.deepEqual(durations.get(2), { stated: 72_000, defaulted: 0 });
    // Video 50 × 512 / 12,800 = 2 s; audio 72,000 / 48,000 = 1.5 s.
    assert.equal(durationSeconds(movie, durations), 2);
  });

  test("mehd, when present, gives the fragments' duration", () => {
    const moov = box(
      'moov',
      header('mvhd', 1000, 0),
      trak(1, 12_800),
      box('mvex', fullBox('mehd', 0, 0, 7_000), trex(1, 512)),
    );
    assert.equal(durationSeconds(parseMovie(view(moov)), new Map()), 7);
  });

  test('a fragmented recording without fragments, or a movie of unknown length, has none', () => {
    const fragmented = box('moov', header('mvhd', 1000, 0), trak(1, 12_800), box('mvex', trex(1, 512)));
    assert.equal(durationSeconds(parseMovie(view(fragmented)), new Map()), null);
    assert.equal(
      durationSeconds(parseMovie(view(box('moov', header('mvhd', 1000, 0), trak(1, 12_800)))), new Map()),
      null,
    );
  });

  test('a box that overruns its parent, or a trun longer than its box, is malformed', () => {
    const moov = box('moov', header('mvhd', 1000, 0));
    moov.writeUInt32BE(moov.length + 1, 8);
    assert.throws(() => parseMovie(view(moov)), RangeError);
    const trun = fullBox('trun', 0, 0x100, 1000, 1);
    assert.throws(() => fragments(box('moof', box('traf', fullBox('tfhd', 0, 0, 1), trun))), RangeError);
    assert.throws(() => parseMovie(view(box('moov', trak(1, 1000)))), /no mvhd/);
  });

  test('box headers: 64-bit sizes, "to the end", and a box that may end past the bytes on disk', () => {
    const large = Buffer.alloc(16);
    large.writeUInt32BE(1, 0);
    large.write('mdat', 4, 'latin1');
    large.writeBigUInt64BE(2n ** 33n, 8);
    assert.deepEqual(readBoxHeader(view(large), 0, 16, { beyondEnd: true }), {
      type: 'mdat',
      headerSize: 16,
      size: 2 ** 33,
    });
    assert.throws(() => readBoxHeader(view(large), 0, 16), RangeError);
    const toEnd = Buffer.from([0, 0, 0, 0, 0x6d, 0x64, 0x61, 0x74]);
    assert.deepEqual(readBoxHeader(view(toEnd), 0, 1000), { type: 'mdat', headerSize: 8, size: 1000 });
    assert.throws(() => readBoxHeader(view(Buffer.from([0, 0, 0, 4, 0x66, 0x72, 0x65, 0x65])), 0, 100), RangeError);
  });
});
