import fs from 'node:fs/promises';
import { createFile, type MP4BoxBuffer, type Movie } from 'mp4box';

/** A top-level box other than `mdat` larger than this is not a plausible `moov` or `moof`: not an MP4. */
const MAX_HEADER_BOX = 256 * 2 ** 20;
/** An empty `mdat` box: what the parser is given in place of each media payload. */
const EMPTY_MDAT = Buffer.from([0, 0, 0, 8, 0x6d, 0x64, 0x61, 0x74]);

/**
 * Reads the media duration of an MP4, in seconds, or null when the file has none that can be read
 * (not an MP4, or a recording killed before its header was written). Regular MP4 carries it in
 * `moov`; fragmented MP4 has an empty `moov`, so the fragments are summed.
 *
 * The parser reads boxes in order and would read every `mdat` payload (the media itself, nearly
 * the whole file) before the next `moof`. It is given the file with each `mdat` emptied instead:
 * the top-level boxes are walked by their headers, and only the others are read. Durations do not
 * depend on the media bytes, so completing a long fragmented recording reads kilobytes per
 * fragment, not the recording.
 */
export async function readMediaDurationSeconds(file: string): Promise<number | null> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const mp4 = createFile(false);
    let failed = false;
    mp4.onError = () => {
      failed = true;
    };
    const header = Buffer.alloc(16);
    // Positions as the parser sees the file, every `mdat` 8 bytes long.
    let parsedAt = 0;
    for (let position = 0; position + 8 <= size && !failed; ) {
      await handle.read(header, 0, header.length, position);
      const type = header.toString('latin1', 4, 8);
      const declared = header.readUInt32BE(0);
      const boxSize = declared === 1 ? Number(header.readBigUInt64BE(8)) : declared === 0 ? size - position : declared;
      if (boxSize < 8 || (type !== 'mdat' && boxSize > MAX_HEADER_BOX)) break;
      let box = EMPTY_MDAT;
      if (type !== 'mdat') {
        box = Buffer.alloc(Math.min(boxSize, size - position));
        await handle.read(box, 0, box.length, position);
      }
      const chunk = box.buffer.slice(box.byteOffset, box.byteOffset + box.length) as MP4BoxBuffer;
      chunk.fileStart = parsedAt;
      mp4.appendBuffer(chunk);
      parsedAt += box.length;
      position += boxSize;
    }
    mp4.flush();
    return failed ? null : durationOf(mp4.getInfo());
  } finally {
    await handle.close();
  }
}

function durationOf(movie: Movie | undefined): number | null {
  if (!movie?.hasMoov) return null;
  if (movie.duration > 0 && movie.timescale > 0) return movie.duration / movie.timescale;
  const fragments = movie.fragment_duration;
  if (movie.isFragmented && fragments && fragments.den > 0 && fragments.num > 0) return fragments.num / fragments.den;
  return null;
}
