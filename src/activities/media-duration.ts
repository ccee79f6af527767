import fs from 'node:fs/promises';
import { createFile, type MP4BoxBuffer, type Movie } from 'mp4box';

/**
 * A fragment's `moof` is a few KiB: reading more than that per fragment would read most of a
 * fragmented recording's `mdat` payloads too, and completing a long recording would take longer.
 */
const READ_SIZE = 64 * 1024;

/**
 * Reads the media duration of an MP4, in seconds, or null when the file has none that can be read
 * (not an MP4, or a recording killed before its header was written). Regular MP4 carries it in
 * `moov`; fragmented MP4 has an empty `moov`, so the fragments are summed. The parser tells which
 * byte it wants next, so `mdat` payloads are skipped, not read.
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
    let position = 0;
    while (position < size && !failed) {
      const buffer = Buffer.alloc(Math.min(READ_SIZE, size - position));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      const chunk = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + bytesRead) as MP4BoxBuffer;
      chunk.fileStart = position;
      const wanted = mp4.appendBuffer(chunk);
      position = wanted > position ? wanted : position + bytesRead;
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
