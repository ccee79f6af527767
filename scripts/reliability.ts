import path from 'node:path';
import { parseArgs } from 'node:util';
import { FULL } from '../test/reliability/profiles';
import { failed, newReport, writeFiguresIntoDoc, writeReportJson, type ReportRow } from '../test/reliability/report';
import { contextFor } from '../test/reliability/scenario';
import { SCENARIOS } from '../test/reliability/scenarios';

/**
 * The full fault-injection suite (`npm run reliability`): every scenario at full strength against
 * real servers, the app and live ffmpeg recordings. Writes reports/reliability.json and the table
 * in docs/reliability.md, and exits 1 when any stream was lost, doubled or left unfinished.
 *
 *   --only sigkill,network   run these scenarios only (the report then holds only them)
 *   --seed 1234              replay the fault timings of an earlier run
 */
const ROOT = path.resolve(__dirname, '..');

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, seed: { type: 'string' } } });
  const seed = values.seed ? Number(values.seed) : Date.now() % 2 ** 31;
  const only = values.only?.split(',');
  const unknown = only?.filter((fault) => !SCENARIOS.some((scenario) => scenario.fault === fault)) ?? [];
  if (unknown.length > 0)
    throw new Error(`unknown scenario ${unknown.join(', ')}; there are ${SCENARIOS.map((s) => s.fault).join(', ')}`);
  const started = Date.now();
  const rows: ReportRow[] = [];
  for (const scenario of SCENARIOS.filter((candidate) => !only || only.includes(candidate.fault))) {
    console.log(`${new Date().toISOString()} ${scenario.fault}: ${scenario.title}`);
    const row: ReportRow = await scenario
      .run(contextFor(scenario, FULL, seed))
      .catch((err: Error) => ({ fault: scenario.fault, title: scenario.title, error: err.stack ?? err.message }));
    console.log(JSON.stringify(row, null, 2));
    rows.push(row);
  }
  const report = newReport(FULL.name, seed, rows, (Date.now() - started) / 1000);
  writeReportJson(report, path.join(ROOT, 'reports', 'reliability.json'));
  writeFiguresIntoDoc(report, path.join(ROOT, 'docs', 'reliability.md'));
  const failures = rows.filter(failed);
  console.log(
    `${rows.length - failures.length} of ${rows.length} scenarios passed (seed ${seed}); reports/reliability.json, docs/reliability.md`,
  );
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(2);
  },
);
