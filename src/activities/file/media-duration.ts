import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  addFragment,
  durationSeconds,
  parseMovie,
  readBoxHeader,
  type FragmentDurations,
  type Movie,
} from './mp4-boxes';

/** A `moov` or `moof` larger than this is not plausible: not an MP4. */
const MAX_HEADER_BOX = 256 * 2 ** 20;
/** One read at each top-level box: its header, and a whole `moof` of a second or so of media. */
const READ_AHEAD = 4096;
/** The longest the reads below hold the event loop before letting other streams' work run. */
const SLICE_MS = 5;
/**
 * The boxes an MP4 or a QuickTime MOV (the same box structure) can begin with. Other containers
 * (Matroska, MPEG-TS) are not parsed: their first bytes, read as a box, could pass for one.
 */
const FIRST_BOXES: ReadonlySet<string> = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot']);

/**
 * Reads the media duration of the MP4 or MOV open as `handle`, in seconds, or null when it has
 * none that can be read (another container, or a recording killed before its header was written). Regular MP4
 * carries it in `moov`; fragmented MP4 has an empty `moov`, so the fragments' samples are summed.
 *
 * Only the top-level boxes' headers, `moov` and each `moof` are read: never the media (`mdat`),
 * nearly the whole file. A box cut short by the end of the file (a recording still being
 * written, or killed) is left out.
 *
 * A long fragmented recording has a box every few hundred kilobytes, each a small read of a file
 * just written (in the page cache). Read asynchronously, each waited behind other streams' chunk
 * reads and hashes: at 50 streams ending together this took seconds. They are read synchronously
 * instead, in slices of a few milliseconds.
 */
export async function readMediaDurationSeconds(handle: FileHandle): Promise<number | null> {
  const { size } = await handle.stat();
  const ahead = Buffer.allocUnsafe(READ_AHEAD);
  let movie: Movie | undefined;
  const fragments = new Map<number, FragmentDurations>();
  try {
    let sliceStart = performance.now();
    for (let position = 0; position + 8 <= size;) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
      const bytesRead = readSync(handle.fd, ahead, 0, READ_AHEAD, position);
      const view = new DataView(ahead.buffer, ahead.byteOffset, bytesRead);
      const { type, size: boxSize } = readBoxHeader(view, 0, size - position, { beyondEnd: true });
      if (position === 0 && !FIRST_BOXES.has(type)) return null;
      // Cut short by the end of the file: what came before it counts.
      if (position + boxSize > size) break;
      if (type === 'moov' || type === 'moof') {
        if (boxSize > MAX_HEADER_BOX) return null;
        const box =
          boxSize <= bytesRead
            ? new DataView(ahead.buffer, ahead.byteOffset, boxSize)
            : readBox(handle, position, boxSize);
        if (type === 'moov') movie = parseMovie(box);
        else addFragment(box, fragments);
      }
      position += boxSize;
    }
  } catch (err) {
    if (err instanceof RangeError) return null;
    throw err;
  }
  return movie ? durationSeconds(movie, fragments) : null;
}

function readBox(handle: FileHandle, position: number, size: number): DataView {
  const box = Buffer.allocUnsafe(size);
  const bytesRead = readSync(handle.fd, box, 0, size, position);
  return new DataView(box.buffer, box.byteOffset, bytesRead);
}
