import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { requireCommand } from '../../scripts/local-servers';

/** Real MP4 recordings from ffmpeg: H.264 + AAC, as cameras and OBS write them. */

const run = promisify(execFile);

export type Mp4Kind = 'regular' | 'fragmented' | 'faststart';

const MOVFLAGS: Record<Mp4Kind, string[]> = {
  regular: [],
  fragmented: ['-movflags', 'frag_keyframe+empty_moov+default_base_moof'],
  faststart: ['-movflags', '+faststart'],
};

function ffmpegArgs(
  file: string,
  seconds: number,
  kind: Mp4Kind,
  bitrate: string,
  size: string,
  realtime: boolean,
): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    ...(realtime ? ['-re'] : []),
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${size}:rate=25:duration=${seconds}`,
    '-f',
    'lavfi',
    '-i',
    `sine=duration=${seconds}`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-b:v',
    bitrate,
    '-g',
    '25',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-shortest',
    ...MOVFLAGS[kind],
    file,
  ];
}

export async function makeMp4(
  file: string,
  opts: { seconds: number; kind: Mp4Kind; bitrate?: string; size?: string },
): Promise<void> {
  await run(
    requireCommand('ffmpeg'),
    ffmpegArgs(file, opts.seconds, opts.kind, opts.bitrate ?? '2M', opts.size ?? '640x360', false),
  );
}

export interface LiveRecording {
  /** Resolves when ffmpeg has finished the file (it exits 0), rejects otherwise. */
  done: Promise<void>;
  /** SIGINT: ffmpeg finalises the file (a regular MP4 patches its header and appends moov). */
  stop(): Promise<void>;
  /** SIGKILL: the file is left as it was at that instant. */
  kill(): void;
}

/**
 * Records at real-time rate, so the file grows while the test runs. A `faststart` recording grows
 * like a regular one, then ffmpeg rewrites it in place in a second pass to move `moov` to the front.
 */
export function recordLive(
  file: string,
  opts: { seconds: number; kind: Mp4Kind; bitrate?: string; size?: string },
): LiveRecording {
  const child = spawn(
    requireCommand('ffmpeg'),
    ffmpegArgs(file, opts.seconds, opts.kind, opts.bitrate ?? '2M', opts.size ?? '640x360', true),
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
  const done = new Promise<void>((resolve, reject) =>
    child.once('exit', (code, signal) =>
      code === 0 || signal === 'SIGINT'
        ? resolve()
        : reject(new Error(`ffmpeg ended with ${code ?? signal}: ${stderr}`)),
    ),
  );
  return {
    done,
    async stop() {
      child.kill('SIGINT');
      await done.catch(() => undefined);
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/**
 * Writes a copy of an MP4 that differs from every other copy yet stays a valid MP4: the source
 * followed by a top-level `free` box carrying `tag`. Thousands of distinct recordings in milliseconds.
 */
export function writeTaggedCopy(source: Buffer, dest: string, tag: string): void {
  const payload = Buffer.from(tag, 'utf8');
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + payload.length, 0);
  header.write('free', 4, 'ascii');
  fs.writeFileSync(dest, Buffer.concat([source, header, payload]));
}

export async function ffprobeDurationSeconds(file: string): Promise<number> {
  const { stdout } = await run(requireCommand('ffprobe'), [
    '-v',
    'error',
    '-show_entries',
    'format=duration',
    '-of',
    'default=nw=1:nk=1',
    file,
  ]);
  return Number(stdout.trim());
}

/** The SHA-256 of the file, or of its first `bytes` bytes. */
export async function sha256File(file: string, bytes?: number): Promise<string> {
  const hash = createHash('sha256');
  if (bytes !== 0)
    for await (const data of fs.createReadStream(file, { end: bytes === undefined ? undefined : bytes - 1 }))
      hash.update(data as Buffer);
  return hash.digest('hex');
}
