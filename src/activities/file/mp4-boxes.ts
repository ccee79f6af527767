/**
 * The few ISO BMFF (MP4) boxes a recording's duration is read from, parsed from their bytes. A
 * general parser builds a table of every sample of every fragment; on 50 recordings completing
 * at once that cost seconds of the activity worker's one thread. Only sample durations are
 * summed here. Any malformed box throws a RangeError: the caller reads that as "no duration".
 */

export interface BoxHeader {
  type: string;
  /** Bytes of the header: 8, or 16 with a 64-bit size. */
  headerSize: number;
  /** The whole box's size; 0 in the file means "to the end", resolved against `endOfParent`. */
  size: number;
}

/**
 * The header of the box at `offset`; throws when it is malformed or overruns its parent, unless
 * `beyondEnd` (a top-level box of a file still being written may end past what is on disk).
 */
export function readBoxHeader(
  bytes: DataView,
  offset: number,
  endOfParent: number,
  { beyondEnd = false } = {},
): BoxHeader {
  const declared = bytes.getUint32(offset);
  const type = String.fromCharCode(
    bytes.getUint8(offset + 4),
    bytes.getUint8(offset + 5),
    bytes.getUint8(offset + 6),
    bytes.getUint8(offset + 7),
  );
  const headerSize = declared === 1 ? 16 : 8;
  const size =
    declared === 1 ? Number(bytes.getBigUint64(offset + 8)) : declared === 0 ? endOfParent - offset : declared;
  if (size < headerSize || (!beyondEnd && offset + size > endOfParent))
    throw new RangeError(`box ${JSON.stringify(type)} at ${offset} overruns its parent`);
  return { type, headerSize, size };
}

interface Box {
  type: string;
  /** Where the box's content begins (after its header) and where the box ends, in the view. */
  content: number;
  end: number;
}

function* children(bytes: DataView, start: number, end: number): Generator<Box> {
  for (let offset = start; offset + 8 <= end;) {
    const { type, headerSize, size } = readBoxHeader(bytes, offset, end);
    yield { type, content: offset + headerSize, end: offset + size };
    offset += size;
  }
}

/** The first box of each type in turn, each inside the one before: `child(moov, trak, 'mdia', 'mdhd')`. */
function child(bytes: DataView, parent: Box, ...path: string[]): Box | undefined {
  let found: Box | undefined = parent;
  for (const type of path) {
    const inside: Box = found;
    found = undefined;
    for (const box of children(bytes, inside.content, inside.end)) {
      if (box.type === type) {
        found = box;
        break;
      }
    }
    if (!found) return undefined;
  }
  return found;
}

/** A full box's version and flags, and where its fields begin. */
function fullBox(bytes: DataView, box: Box): { version: number; flags: number; fields: number } {
  const word = bytes.getUint32(box.content);
  return { version: word >>> 24, flags: word & 0xffffff, fields: box.content + 4 };
}

function uint(bytes: DataView, offset: number, wide: boolean): number {
  return wide ? Number(bytes.getBigUint64(offset)) : bytes.getUint32(offset);
}

/** `mvhd` and `mdhd` share this layout: times, then the timescale and the duration. */
function timescaleAndDuration(bytes: DataView, box: Box): { timescale: number; duration: number } {
  const { version, fields } = fullBox(bytes, box);
  const wide = version === 1;
  const at = fields + (wide ? 16 : 8);
  return { timescale: bytes.getUint32(at), duration: uint(bytes, at + 4, wide) };
}

interface Track {
  timescale: number;
  /** Sum of the durations of the samples in `moov` (none in a fragmented recording's). */
  moovDuration: number;
  /** From `trex`: the duration of a fragment's sample that states none. */
  defaultSampleDuration: number;
}

/** What `moov` says about the recording's duration. */
export interface Movie {
  timescale: number;
  /** `mvhd`'s duration: 0 while unknown, as in a fragmented recording. */
  duration: number;
  /** Has `mvex`: the samples are in fragments (`moof`). */
  fragmented: boolean;
  /** `mehd`'s duration of all fragments, in the movie's timescale; 0 when absent. */
  fragmentDuration: number;
  tracks: Map<number, Track>;
}

/** Parses a whole `moov` box (its header included). */
export function parseMovie(moov: DataView): Movie {
  const root: Box = { type: 'moov', content: readBoxHeader(moov, 0, moov.byteLength).headerSize, end: moov.byteLength };
  const mvhd = child(moov, root, 'mvhd');
  if (!mvhd) throw new RangeError('moov has no mvhd');
  const movie: Movie = {
    ...timescaleAndDuration(moov, mvhd),
    fragmented: false,
    fragmentDuration: 0,
    tracks: new Map(),
  };
  for (const box of children(moov, root.content, root.end)) {
    if (box.type === 'trak') {
      const tkhd = child(moov, box, 'tkhd');
      const mdhd = child(moov, box, 'mdia', 'mdhd');
      if (!tkhd || !mdhd) continue;
      const { version, fields } = fullBox(moov, tkhd);
      const trackId = moov.getUint32(fields + (version === 1 ? 16 : 8));
      const track = trackOf(movie, trackId);
      track.timescale = timescaleAndDuration(moov, mdhd).timescale;
      track.moovDuration = sttsDuration(moov, child(moov, box, 'mdia', 'minf', 'stbl', 'stts'));
    } else if (box.type === 'mvex') {
      movie.fragmented = true;
      for (const entry of children(moov, box.content, box.end)) {
        const { version, fields } = fullBox(moov, entry);
        if (entry.type === 'mehd') movie.fragmentDuration = uint(moov, fields, version === 1);
        if (entry.type === 'trex') {
          const trackId = moov.getUint32(fields);
          trackOf(movie, trackId).defaultSampleDuration = moov.getUint32(fields + 8);
        }
      }
    }
  }
  return movie;
}

/** A track's entry, made on first sight: `trak` and `trex` may come in either order. */
function trackOf(movie: Movie, trackId: number): Track {
  let track = movie.tracks.get(trackId);
  if (!track) {
    track = { timescale: 0, moovDuration: 0, defaultSampleDuration: 0 };
    movie.tracks.set(trackId, track);
  }
  return track;
}

function sttsDuration(bytes: DataView, stts: Box | undefined): number {
  if (!stts) return 0;
  const { fields } = fullBox(bytes, stts);
  let total = 0;
  for (let entry = 0, count = bytes.getUint32(fields); entry < count; entry++) {
    total += bytes.getUint32(fields + 4 + entry * 8) * bytes.getUint32(fields + 8 + entry * 8);
  }
  return total;
}

/**
 * The sample durations of one track's fragments so far: those a fragment states, and a count of
 * those left to `trex`'s default (which `moov` gives, wherever it lies in the file).
 */
export interface FragmentDurations {
  stated: number;
  defaulted: number;
}

const TFHD_BASE_DATA_OFFSET = 0x1;
const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x2;
const TFHD_DEFAULT_SAMPLE_DURATION = 0x8;
const TRUN_DATA_OFFSET = 0x1;
const TRUN_FIRST_SAMPLE_FLAGS = 0x4;
const TRUN_SAMPLE_DURATION = 0x100;
/** Sample size, flags and composition offset: 4 bytes each per sample when present. */
const TRUN_OTHER_SAMPLE_FIELDS = [0x200, 0x400, 0x800];

/** Adds the sample durations of one whole `moof` box (its header included), by track id. */
export function addFragment(moof: DataView, durations: Map<number, FragmentDurations>): void {
  const root: Box = { type: 'moof', content: readBoxHeader(moof, 0, moof.byteLength).headerSize, end: moof.byteLength };
  for (const traf of children(moof, root.content, root.end)) {
    if (traf.type !== 'traf') continue;
    const tfhd = child(moof, traf, 'tfhd');
    if (!tfhd) throw new RangeError('traf has no tfhd');
    const header = fullBox(moof, tfhd);
    const trackId = moof.getUint32(header.fields);
    let at = header.fields + 4;
    if (header.flags & TFHD_BASE_DATA_OFFSET) at += 8;
    if (header.flags & TFHD_SAMPLE_DESCRIPTION_INDEX) at += 4;
    const trafDefault = header.flags & TFHD_DEFAULT_SAMPLE_DURATION ? moof.getUint32(at) : undefined;
    const track = durations.get(trackId) ?? { stated: 0, defaulted: 0 };
    durations.set(trackId, track);
    for (const trun of children(moof, traf.content, traf.end)) {
      if (trun.type !== 'trun') continue;
      const run = fullBox(moof, trun);
      const samples = moof.getUint32(run.fields);
      if (!(run.flags & TRUN_SAMPLE_DURATION)) {
        if (trafDefault === undefined) track.defaulted += samples;
        else track.stated += samples * trafDefault;
        continue;
      }
      let sampleAt =
        run.fields + 4 + (run.flags & TRUN_DATA_OFFSET ? 4 : 0) + (run.flags & TRUN_FIRST_SAMPLE_FLAGS ? 4 : 0);
      const stride = 4 + 4 * TRUN_OTHER_SAMPLE_FIELDS.filter((flag) => run.flags & flag).length;
      if (sampleAt + samples * stride > trun.end) throw new RangeError('trun overruns its box');
      for (let sample = 0; sample < samples; sample++, sampleAt += stride) track.stated += moof.getUint32(sampleAt);
    }
  }
}

/**
 * The recording's duration in seconds, as players read it: `mvhd`'s when known; for a fragmented
 * recording, `mehd`'s, or else the longest track's samples, in `moov` and in every fragment.
 */
export function durationSeconds(movie: Movie, fragments: Map<number, FragmentDurations>): number | null {
  if (movie.duration > 0 && movie.timescale > 0) return movie.duration / movie.timescale;
  if (!movie.fragmented) return null;
  if (movie.fragmentDuration > 0 && movie.timescale > 0) return movie.fragmentDuration / movie.timescale;
  let longest = 0;
  for (const [trackId, track] of movie.tracks) {
    const fragment = fragments.get(trackId) ?? { stated: 0, defaulted: 0 };
    const samples = track.moovDuration + fragment.stated + fragment.defaulted * track.defaultSampleDuration;
    if (track.timescale > 0) longest = Math.max(longest, samples / track.timescale);
  }
  return longest > 0 ? longest : null;
}
