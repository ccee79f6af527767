import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FaultFigures } from './figures';

/** A scenario that could not finish (a wait ran out, a server would not start): its error instead of figures. */
export interface ScenarioError {
  fault: string;
  title: string;
  error: string;
}

export type ReportRow = FaultFigures | ScenarioError;

export interface Report {
  generatedAt: string;
  profile: string;
  /** Replays the run's fault timings: `--seed`. */
  seed: number;
  machine: { cpus: number; node: string; platform: string };
  totalSeconds: number;
  scenarios: ReportRow[];
}

export function newReport(profile: string, seed: number, rows: ReportRow[], totalSeconds: number): Report {
  return {
    generatedAt: new Date().toISOString(),
    profile,
    seed,
    machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.arch()}` },
    totalSeconds: Math.round(totalSeconds),
    scenarios: rows,
  };
}

export function failed(row: ReportRow): boolean {
  return 'error' in row || row.problems.length > 0;
}

export function writeReportJson(report: Report, file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

const BEGIN = '<!-- reliability-figures -->';
const END = '<!-- /reliability-figures -->';

/** Replaces the figures between the markers of the doc, leaving its prose alone. */
export function writeFiguresIntoDoc(report: Report, docFile: string): void {
  const doc = fs.readFileSync(docFile, 'utf8');
  const begin = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`${docFile} has no ${BEGIN} ... ${END} section for the figures`);
  fs.writeFileSync(docFile, `${doc.slice(0, begin + BEGIN.length)}\n${figuresMarkdown(report)}\n${doc.slice(end)}`);
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const seconds = (value: number | null) => (value === null ? '-' : value.toFixed(1));

function figuresMarkdown(report: Report): string {
  const lines = [
    `Last full run: ${report.generatedAt.slice(0, 16).replace('T', ' ')} UTC, seed ${report.seed}, ${report.machine.cpus} CPUs, Node ${report.machine.node}, ${Math.round(report.totalSeconds / 60)} min.`,
    '',
    '| Fault | App runs | Faults | Streams | MiB | Mismatched streams | Incomplete streams | Premature completes | Duplicate chunk uploads | Rewritten chunk uploads | Recovery p50 / max (s) | Problems |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of report.scenarios) {
    if ('error' in row) {
      lines.push(
        `| ${row.title} | | | | | | | | | | | did not finish: ${row.error.split('\n')[0].replace(/\|/g, '\\|')} |`,
      );
      continue;
    }
    const recovery =
      row.recoverySeconds.samples === 0
        ? '-'
        : `${seconds(row.recoverySeconds.p50)} / ${seconds(row.recoverySeconds.max)}`;
    lines.push(
      `| ${row.title} | ${row.runs} | ${row.faultsInjected} | ${row.streams} | ${mib(row.bytes)} | ${row.mismatchedStreams} | ${row.incompleteStreams} | ${row.prematureCompletions} | ${row.duplicateChunkUploads} | ${row.rewrittenChunkUploads} | ${recovery} | ${row.problems.length} |`,
    );
  }
  for (const row of report.scenarios) {
    if ('error' in row || row.extra.sequences === undefined) continue;
    lines.push(
      '',
      `${row.fault}: ${row.extra.sequences} sequences, ${row.faultsInjected} actions (${String(row.extra.actions)}).`,
    );
  }
  const problems = report.scenarios.flatMap((row) =>
    'error' in row ? [] : listed(row.problems).map((problem) => `- ${row.fault}: ${problem.replace(/\s+/g, ' ')}`),
  );
  if (problems.length > 0) lines.push('', 'Problems found (all of them in the JSON report):', '', ...problems);
  return lines.join('\n');
}

/** The first few of a long list, and how many more there are: the doc stays short. */
function listed(problems: string[], most = 10): string[] {
  return problems.length <= most ? problems : [...problems.slice(0, most), `... and ${problems.length - most} more`];
}
