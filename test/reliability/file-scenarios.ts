import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { LogLine } from '../support/app-process';
import { makeMp4, recordLive, writeTaggedCopy } from '../support/media';
import { waitUntil } from '../support/wait';
import { manifestVersions, waitForStreams, type Audit, type ExpectedStream } from './audit';
import { CHUNK_SIZE, IDLE_TIMEOUT_MS, type Rig } from './rig';
import { onRig, sleep, type Scenario } from './scenario';

/**
 * Files that misbehave. Each case makes its files, misbehaves, and says how its streams must end
 * and what else must hold: a log line that says what happened, a manifest that says so. All cases
 * run at once in one app, which must keep serving the well-behaved ones meanwhile.
 */

interface CaseRun {
  streams: ExpectedStream[];
  /** Problems beyond the bucket audit's, once the bucket is settled. */
  check?(audit: Audit, logs: LogLine[]): Promise<string[]> | string[];
}

/** Names every problem with its case: `${case}: ${problem}`. */
type Say = (problem: string) => string;

interface FileCase {
  name: string;
  run(rig: Rig, media: Media): Promise<CaseRun>;
}

function fileCase(name: string, run: (rig: Rig, media: Media, say: Say) => Promise<CaseRun>): FileCase {
  return { name, run: (rig, media) => run(rig, media, (problem) => `${name}: ${problem}`) };
}

/** MP4s made once per scenario, outside the watched directory. */
interface Media {
  /** A fragmented MP4 of a few MB. */
  fragmented: Buffer;
  /** Two regular MP4s of a few chunks each, with different bytes. */
  regular: [Buffer, Buffer];
  /** A small MP4 for copies. */
  small: Buffer;
}

async function makeMedia(dir: string): Promise<Media> {
  const file = (name: string) => path.join(dir, name);
  await Promise.all([
    makeMp4(file('fragmented.mp4'), { seconds: 8, kind: 'fragmented', bitrate: '2M' }),
    makeMp4(file('regular-a.mp4'), { seconds: 5, kind: 'regular', bitrate: '2M' }),
    makeMp4(file('regular-b.mp4'), { seconds: 4, kind: 'regular', bitrate: '2M', size: '320x240' }),
    makeMp4(file('small.mp4'), { seconds: 1, kind: 'regular', bitrate: '200k', size: '160x120' }),
  ]);
  const read = (name: string) => fs.readFileSync(file(name));
  return {
    fragmented: read('fragmented.mp4'),
    regular: [read('regular-a.mp4'), read('regular-b.mp4')],
    small: read('small.mp4'),
  };
}

const streamIdOf = (stream: ExpectedStream) => `${stream.relPath}@${stream.prefix.split('/').pop()}`;
const linesOf = (logs: LogLine[], stream: ExpectedStream) =>
  logs.filter((line) => line.streamId === streamIdOf(stream));
const isWarning = (line: LogLine) => line.level === 'warn' || line.level === 'error' || line.level === 'fatal';

/** A line at warn or above about the stream: an operator can see what went wrong. */
function warned(say: Say, stream: ExpectedStream, logs: LogLine[]): string[] {
  return linesOf(logs, stream).some(isWarning) ? [] : [say(`no warning in the log about ${stream.relPath}`)];
}

/** The manifest must say that chunks were uploaded again because the file changed under them. */
function rewriteSaid(say: Say, stream: ExpectedStream, audit: Audit): string[] {
  const manifest = audit.manifests.get(stream.relPath);
  if (!manifest || manifest.rewrittenChunks > 0) return [];
  return [
    say(`manifest has rewrittenChunks ${manifest.rewrittenChunks} although the file changed under uploaded chunks`),
  ];
}

function dirIn(rig: Rig, relDir: string): void {
  fs.mkdirSync(path.join(rig.watchDir, relDir), { recursive: true });
}

function writeIn(rig: Rig, relPath: string, bytes: Buffer | string): string {
  dirIn(rig, path.dirname(relPath));
  const file = path.join(rig.watchDir, relPath);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Appends `bytes` in `slices` writes spread over about `ms`, as a recorder writes. */
async function appendPaced(file: string, bytes: Buffer, ms: number, slices = 10): Promise<void> {
  const slice = Math.ceil(bytes.length / slices);
  for (let offset = 0; offset < bytes.length; offset += slice) {
    fs.appendFileSync(file, bytes.subarray(offset, offset + slice));
    await sleep(ms / slices);
  }
}

async function chunksUploaded(rig: Rig, stream: ExpectedStream, count: number): Promise<void> {
  const uploaded = () => linesOf(rig.logs(), stream).filter((line) => line.msg === 'chunk uploaded').length;
  await waitUntil(
    () => uploaded() >= count,
    120_000,
    () => `${stream.relPath}: ${uploaded()} chunks uploaded`,
  );
}

const paused = fileCase('paused past the idle timeout, then continued', async (rig, media, say) => {
  const relPath = 'paused/resumed later.mp4';
  const cut = Math.floor(media.fragmented.length * 0.4);
  const file = writeIn(rig, relPath, '');
  await appendPaced(file, media.fragmented.subarray(0, cut), 1000);
  const stream = rig.expect(relPath);
  const problems: string[] = [];
  const early = await waitForStreams(rig.stack.s3, rig.stack.bucket, [stream], 120_000);
  if (early.size > 0) problems.push(say(`the first ${cut} bytes never completed (${[...early.values()]})`));
  await appendPaced(file, media.fragmented.subarray(cut), 1000);
  return {
    streams: [stream],
    async check(audit) {
      const manifest = audit.manifests.get(relPath);
      if (manifest && !(manifest.revision >= 2 && manifest.previousRevision?.totalSize === cut)) {
        problems.push(
          say(
            `final manifest has revision ${manifest.revision}, previousRevision ${JSON.stringify(manifest.previousRevision)}: it must supersede the ${cut}-byte one`,
          ),
        );
      }
      const versions = await manifestVersions(rig.stack.s3, rig.stack.bucket, stream, audit.history);
      const sizes = versions
        .filter(({ manifest }) => manifest.status === 'complete')
        .map(({ manifest }) => manifest.totalSize);
      if (!sizes.includes(cut))
        problems.push(say(`no complete manifest of the first ${cut} bytes was ever stored (complete sizes: ${sizes})`));
      return problems;
    },
  };
});

/** How long after the idle timer set at a chunk boundary fires the slow recorder crosses the next one. */
const SLOW_BOUNDARY_LAG_MS = 50;

/**
 * A recorder slow enough that each chunk takes about the idle timeout to fill (a camera at a low
 * bitrate: 10 MiB at 2.8 Mbit/s take 30 s, the default idle timeout). Written every 100 ms, the
 * file is never idle; but the stream hears of it only at chunk boundaries, and each comes just as
 * the idle timer set at the previous one fires, while the stream checks whether the file is idle.
 * The stream must not end before the writes do.
 */
const slowRecorder = fileCase('slow recorder, one chunk per idle timeout', async (rig, media) => {
  const relPath = 'slow/one chunk per idle timeout.mp4';
  const bytes = media.fragmented;
  const file = writeIn(rig, relPath, bytes.subarray(0, CHUNK_SIZE));
  const stream = rig.expect(relPath);
  const growTo = async (at: number, size: number) => {
    await sleep(at - Date.now());
    const current = fs.statSync(file).size;
    if (size > current) fs.appendFileSync(file, bytes.subarray(current, Math.min(size, bytes.length)));
  };
  const period = IDLE_TIMEOUT_MS + SLOW_BOUNDARY_LAG_MS;
  const start = Date.now();
  for (let boundary = 2; (boundary - 1) * CHUNK_SIZE < bytes.length; boundary++) {
    const previous = start + (boundary - 2) * period;
    // Every 100 ms a little more, short of the boundary...
    for (let at = previous + 100; at < previous + period; at += 100)
      await growTo(at, (boundary - 1) * CHUNK_SIZE + Math.floor(((at - previous) / period) * CHUNK_SIZE));
    // ...which is crossed exactly one period after the last.
    await growTo(previous + period, boundary * CHUNK_SIZE);
  }
  return { streams: [stream] };
});

const faststart = fileCase('rewritten by ffmpeg +faststart', async (rig, _media, say) => {
  const relPath = 'rewritten/faststart live.mp4';
  dirIn(rig, 'rewritten');
  await recordLive(path.join(rig.watchDir, relPath), { seconds: 8, kind: 'faststart', bitrate: '2M' }).done;
  const stream = rig.expect(relPath);
  return {
    streams: [stream],
    check: (audit, logs) => [...warned(say, stream, logs), ...rewriteSaid(say, stream, audit)],
  };
});

/** Writes most of a regular MP4 and, once chunks of it are up (the stream still live), does `change`. */
function changedUnderUpload(name: string, relPath: string, change: (file: string, media: Media) => void): FileCase {
  return fileCase(name, async (rig, media, say) => {
    const [first] = media.regular;
    const file = writeIn(rig, relPath, first.subarray(0, Math.floor(first.length * 0.6)));
    const stream = rig.expect(relPath);
    await chunksUploaded(rig, stream, 2);
    change(file, media);
    return {
      streams: [stream],
      check: (audit, logs) => [...warned(say, stream, logs), ...rewriteSaid(say, stream, audit)],
    };
  });
}

// writeFileSync truncates and rewrites the same inode: the same file with other bytes.
const overwritten = changedUnderUpload(
  'rewritten in place with other bytes',
  'rewritten/overwritten.mp4',
  (file, media) => fs.writeFileSync(file, media.regular[1]),
);
const truncated = changedUnderUpload('truncated', 'rewritten/truncated.mp4', (file) => fs.truncateSync(file, 300_000));

const deleted = fileCase('deleted mid-stream', async (rig, _media, say) => {
  const relPath = 'deleted/gone.mp4';
  const file = path.join(rig.watchDir, relPath);
  dirIn(rig, 'deleted');
  const recording = recordLive(file, { seconds: 60, kind: 'fragmented', bitrate: '2M' });
  recording.done.catch(() => undefined);
  await waitUntil(() => fs.existsSync(file), 30_000);
  // What was uploaded is compared with the file as it was: a hard link outside keeps its bytes.
  const kept = path.join(rig.dir, 'kept-gone.mp4');
  const stream = rig.expect(relPath, { outcome: 'failed', file: kept });
  await chunksUploaded(rig, stream, 2);
  recording.kill();
  await recording.done.catch(() => undefined);
  fs.linkSync(file, kept);
  fs.unlinkSync(file);
  return { streams: [stream], check: (_audit, logs) => warned(say, stream, logs) };
});

const unreadable = fileCase('unreadable (mode 000), then made readable and resumed', async (rig, media, say) => {
  const relPath = 'unreadable/no permission.mp4';
  const staged = path.join(rig.dir, 'unreadable.mp4');
  fs.writeFileSync(staged, media.regular[0]);
  fs.chmodSync(staged, 0o000);
  dirIn(rig, 'unreadable');
  const file = path.join(rig.watchDir, relPath);
  fs.renameSync(staged, file);
  const stream = rig.expect(relPath);
  const problems: string[] = [];
  // A blocked stream says so at its first read, within a second or two: 30 s means never.
  await waitUntil(() => linesOf(rig.logs(), stream).some(isWarning), 30_000).catch(() =>
    problems.push(say('no warning in the log within 30 s')),
  );
  fs.chmodSync(file, 0o644);
  // What an operator does once the file is fixed (README: a blocked stream carries on at `resume`).
  await rig.stack.client.workflow
    .getHandle(`stream:${streamIdOf(stream)}`)
    .signal('resume')
    .catch((err: Error) => {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      problems.push(say('no stream was started for it while it was unreadable'));
    });
  return { streams: [stream], check: () => problems };
});

const empty = fileCase('zero bytes', async (rig, _media, say) => {
  writeIn(rig, 'odd/empty.mp4', '');
  const stream = rig.expect('odd/empty.mp4');
  return { streams: [stream], check: (_audit, logs) => warned(say, stream, logs) };
});

const notMp4 = fileCase('not an MP4, named .mp4', async (rig, _media, say) => {
  writeIn(rig, 'odd/not really video.mp4', randomBytes(600_000));
  const stream = rig.expect('odd/not really video.mp4');
  return { streams: [stream], check: (_audit, logs) => warned(say, stream, logs) };
});

/**
 * Spaces, unicode, characters that S3 keys and URLs treat specially, and a backslash: a plain
 * character on Linux, a separator on Windows (a name copied from there may carry it).
 */
const ODD_NAMES = [
  'names/with  spaces\tand a tab.mp4',
  'names/ünïcødé 日本語 ✓ 🎥.mp4',
  'names/a+b %20 %2F #1 ?x=y&z [1] (2) {3} ;,@$!\'~`^|<>".mp4',
  'names/C:\\rec\\.cam1.mp4',
];

const oddNames = fileCase('names with spaces, unicode and characters S3 keys escape', async (rig, media) => {
  dirIn(rig, 'names');
  ODD_NAMES.forEach((relPath, index) =>
    writeTaggedCopy(media.small, path.join(rig.watchDir, relPath), `odd name ${index}`),
  );
  return { streams: ODD_NAMES.map((relPath) => rig.expect(relPath)) };
});

const symlinks = fileCase('symlinks pointing outside WATCH_DIR (not followed)', async (rig, media, say) => {
  const outside = path.join(rig.dir, 'outside');
  fs.mkdirSync(outside, { recursive: true });
  writeTaggedCopy(media.small, path.join(outside, 'secret.mp4'), 'outside');
  dirIn(rig, 'links');
  fs.symlinkSync(path.join(outside, 'secret.mp4'), path.join(rig.watchDir, 'links/linked file.mp4'));
  fs.symlinkSync(outside, path.join(rig.watchDir, 'links/linked dir'));
  // No stream: the audit reports any object of theirs as belonging to no expected stream.
  return {
    streams: [],
    check: (_audit, logs) =>
      logs.some((line) => JSON.stringify(line).includes('linked file.mp4'))
        ? []
        : [say('no log line says links/linked file.mp4 was skipped')],
  };
});

const renamedIntoPlace = fileCase('recorded under a hidden name, renamed into place', async (rig) => {
  dirIn(rig, 'renamed');
  const hidden = path.join(rig.watchDir, 'renamed/.in progress.mp4');
  await recordLive(hidden, { seconds: 5, kind: 'regular', bitrate: '2M' }).done;
  fs.renameSync(hidden, path.join(rig.watchDir, 'renamed/done.mp4'));
  return { streams: [rig.expect('renamed/done.mp4')] };
});

const FILE_CASES: FileCase[] = [
  paused,
  slowRecorder,
  faststart,
  overwritten,
  truncated,
  deleted,
  unreadable,
  empty,
  notMp4,
  oddNames,
  symlinks,
  renamedIntoPlace,
];

const misbehavingFiles: Scenario = {
  fault: 'misbehaving-files',
  title:
    'Files that misbehave: paused, slow, rewritten, truncated, deleted, unreadable, empty, not MP4, odd names, symlinks, renamed in',
  run: (context) =>
    onRig(misbehavingFiles, context, { unprivileged: true }, async (rig) => {
      const media = await makeMedia(rig.dir);
      rig.startApp();
      await rig.app.waitForLog((line) => line.msg === 'watching for recordings');
      const runs = await Promise.all(FILE_CASES.map((fileCase) => fileCase.run(rig, media)));
      return {
        faultsInjected: FILE_CASES.length,
        recovery: [],
        streams: runs.flatMap((run) => run.streams),
        async check(audit) {
          const problems = await Promise.all(runs.map(async (run) => (await run.check?.(audit, rig.logs())) ?? []));
          return problems.flat();
        },
      };
    }),
};

/**
 * Half the files land in a directory watched since the start, half in a directory created at the
 * moment of the drop (a folder moved or copied in): a watcher must catch both.
 */
const DROP_DIRS = ['existing folder', 'new folder'];

const manySmallFiles: Scenario = {
  fault: 'many-small-files',
  title: 'Thousands of small files dropped at once',
  run: (context) =>
    onRig(manySmallFiles, context, { inMemoryTemporal: true }, async (rig) => {
      const seed = path.join(rig.dir, 'small.mp4');
      await makeMp4(seed, { seconds: 1, kind: 'regular', bitrate: '200k', size: '160x120' });
      const source = fs.readFileSync(seed);
      const staging = path.join(rig.dir, 'staging');
      fs.mkdirSync(staging);
      const relPaths = Array.from(
        { length: context.profile.smallFiles },
        (_, index) => `${DROP_DIRS[index % 2]}/clip ${String(index).padStart(5, '0')}.mp4`,
      );
      relPaths.forEach((relPath, index) =>
        writeTaggedCopy(source, path.join(staging, path.basename(relPath)), `clip ${index}`),
      );
      dirIn(rig, DROP_DIRS[0]);
      rig.startApp();
      await rig.app.waitForLog((line) => line.msg === 'watching for recordings');
      const dropped = Date.now();
      dirIn(rig, DROP_DIRS[1]);
      for (const relPath of relPaths)
        fs.renameSync(path.join(staging, path.basename(relPath)), path.join(rig.watchDir, relPath));
      return {
        faultsInjected: relPaths.length,
        recovery: [],
        streams: relPaths.map((relPath) => rig.expect(relPath)),
        settleFrom: dropped,
        async check(audit) {
          return DROP_DIRS.flatMap((dir) => {
            const unfinished = [...audit.incomplete.keys()].filter((relPath) => relPath.startsWith(`${dir}/`)).length;
            return unfinished === 0
              ? []
              : [`${unfinished} of the ${relPaths.length / 2} files dropped into the ${dir} never ended`];
          });
        },
      };
    }),
};

export const FILE_SCENARIOS: Scenario[] = [misbehavingFiles, manySmallFiles];
