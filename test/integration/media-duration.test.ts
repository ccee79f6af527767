import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { readMediaDurationSeconds } from '../../src/activities/file/media-duration';
import { ffprobeDurationSeconds, makeMp4 } from '../support/media';
import { tempDir } from '../support/stack';

async function durationOf(file: string): Promise<number | null> {
  const handle = await fs.promises.open(file);
  try {
    return await readMediaDurationSeconds(handle);
  } finally {
    await handle.close();
  }
}

/** The duration the manifest records, read from real ffmpeg recordings, whole, cut short, or not MP4s at all. */
describe('media duration of a recording', () => {
  const dir = tempDir('duration');

  test('regular and fragmented MP4s: the duration ffprobe reads', async () => {
    for (const kind of ['regular', 'fragmented'] as const) {
      const file = path.join(dir, `${kind}.mp4`);
      await makeMp4(file, { seconds: 6, kind });
      const seconds = await durationOf(file);
      assert.ok(
        seconds !== null && Math.abs(seconds - (await ffprobeDurationSeconds(file))) < 0.1,
        `${kind}: ${seconds}`,
      );
    }
  });

  test('MOV is read as MP4 is; Matroska and MPEG-TS, which the app does not parse, have none', async () => {
    const mov = path.join(dir, 'camera.mov');
    await makeMp4(mov, { seconds: 5, kind: 'regular' });
    assert.equal(fs.readFileSync(mov).toString('latin1', 4, 12), 'ftypqt  ', 'a QuickTime file, brand qt');
    const seconds = await durationOf(mov);
    assert.ok(seconds !== null && Math.abs(seconds - (await ffprobeDurationSeconds(mov))) < 0.1, `mov: ${seconds}`);
    for (const other of ['obs.mkv', 'segment.ts']) {
      const file = path.join(dir, other);
      await makeMp4(file, { seconds: 3, kind: 'regular' });
      assert.equal(await durationOf(file), null, other);
    }
  });

  test('a fragmented recording cut inside a fragment counts its complete fragments', async () => {
    const whole = path.join(dir, 'whole-fragmented.mp4');
    await makeMp4(whole, { seconds: 6, kind: 'fragmented' });
    const cut = path.join(dir, 'cut-fragmented.mp4');
    const bytes = fs.readFileSync(whole);
    fs.writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const seconds = await durationOf(cut);
    assert.ok(seconds !== null && seconds > 1 && seconds < 5, `half of 6 s of fragments: ${seconds}`);
  });

  test('a regular recording killed before its moov, and bytes that are no MP4, have none', async () => {
    const regular = path.join(dir, 'killed-source.mp4');
    await makeMp4(regular, { seconds: 4, kind: 'regular' });
    const killed = path.join(dir, 'killed.mp4');
    // As a SIGKILLed ffmpeg leaves it: the mdat size still 0, and no moov after the media.
    const bytes = Buffer.from(fs.readFileSync(regular));
    const mdatAt = bytes.indexOf('mdat') - 4;
    bytes.writeUInt32BE(0, mdatAt);
    fs.writeFileSync(killed, bytes.subarray(0, bytes.indexOf('moov') - 4));
    assert.equal(await durationOf(killed), null);

    const noise = path.join(dir, 'noise.mp4');
    fs.writeFileSync(noise, randomBytes(3 * 2 ** 20));
    assert.equal(await durationOf(noise), null);
  });
});
