import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

/**
 * Peak memory and CPU time of the app's process tree, read from /proc (Linux only). The app is
 * one Node process today (tsx and the Temporal core run inside it), but children are counted too
 * so that a product which forks helpers is not measured as cheaper than it is.
 */

export interface ProcessCost {
  /**
   * Peak resident set size while measuring, MB (10^6 bytes): the larger of the tree's sampled peak
   * (summed over its processes at one sample) and the roots' exact high-water marks (VmHWM).
   */
  peakRssMb: number;
  /** Resident set size when measuring began: the app at rest, after start-up. */
  restRssMb: number;
  /** The roots' high-water mark over start-up (bundling the workflow code), before the workload. */
  startupPeakMb: number;
  /** User + system CPU time of the tree between start and stop, seconds. */
  cpuSeconds: number;
  samples: number;
}

export interface CostMeter {
  stop(): ProcessCost;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function readProc(pid: number, file: string): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null; // exited between listing and reading
  }
}

/**
 * utime + stime in seconds, plus cutime + cstime (children waited for) with `reapedChildren`. The
 * command name may hold spaces and parentheses, so the fields are split after the last ')'.
 */
function cpuSecondsOf(pid: number, reapedChildren = false): number | null {
  const stat = readProc(pid, 'stat');
  if (!stat) return null;
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return (fields[11] + fields[12] + (reapedChildren ? fields[13] + fields[14] : 0)) / CLOCK_TICKS;
}

/** CPU seconds of this process so far, with its finished children's (rclone): a baseline's client-side cost. */
export function selfCpuSeconds(): number {
  return cpuSecondsOf(process.pid, true) ?? 0;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readProc(pid, 'status') ?? '');
  return match ? Number(match[1]) : 0;
}

function descendants(pid: number): number[] {
  const found: number[] = [];
  const tasks = (() => {
    try {
      return fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      return [];
    }
  })();
  for (const task of tasks) {
    for (const child of (readProc(pid, `task/${task}/children`) ?? '').split(' ').filter(Boolean).map(Number)) {
      found.push(child, ...descendants(child));
    }
  }
  return found;
}

/**
 * Starts measuring the trees rooted at `pids` (one per app process). The roots' VmHWM is reset
 * first, so that start-up (bundling the workflow code) does not count as the workload's peak.
 */
export function meterProcesses(pids: number[], intervalMs = 200): CostMeter {
  const mb = (kb: number) => (kb * 1024) / 1e6;
  const startupPeakMb = mb(pids.reduce((sum, pid) => sum + statusKb(pid, 'VmHWM'), 0));
  for (const pid of pids) {
    try {
      fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    } catch {
      // Not permitted here: VmHWM then includes start-up; the sampled peak still does not.
    }
  }
  /** CPU seconds of each process when first seen (0 for one born while measuring) and when last seen. */
  const cpu = new Map<number, { first: number; last: number }>();
  let peakRssKb = 0;
  let samples = 0;
  const sample = (initial: boolean) => {
    let rssKb = 0;
    for (const pid of pids.flatMap((root) => [root, ...descendants(root)])) {
      const seconds = cpuSecondsOf(pid);
      if (seconds === null) continue;
      const seen = cpu.get(pid);
      if (seen) seen.last = seconds;
      else cpu.set(pid, { first: initial ? seconds : 0, last: seconds });
      rssKb += statusKb(pid, 'VmRSS');
    }
    peakRssKb = Math.max(peakRssKb, rssKb);
    samples++;
  };
  sample(true);
  const restRssMb = mb(peakRssKb);
  const timer = setInterval(() => sample(false), intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample(false);
      const hwmKb = pids.reduce((sum, pid) => sum + statusKb(pid, 'VmHWM'), 0);
      let cpuSeconds = 0;
      for (const { first, last } of cpu.values()) cpuSeconds += last - first;
      return { peakRssMb: mb(Math.max(peakRssKb, hwmKb)), restRssMb, startupPeakMb, cpuSeconds, samples };
    },
  };
}

/** The first process whose arguments include every one of `args`, exactly (e.g. a server's `--port` and its number). */
export function findProcess(args: string[]): number | null {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (readProc(Number(entry), 'cmdline') ?? '').split('\0');
    if (args.every((arg) => cmdline.includes(arg))) return Number(entry);
  }
  return null;
}

/** Busy CPU seconds of the whole machine (all cores, every process: ours and whatever else runs). */
function hostBusySeconds(): number {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields; // idle and iowait are not busy
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS;
}

export interface HostLoad {
  wallSeconds: number;
  /** CPU seconds the machine was busy, by anyone; over wall seconds and cores, how loaded it was. */
  hostBusyCpuSeconds: number;
  cores: number;
  /** CPU seconds of the servers the run used, e.g. `temporal` and `minio`. */
  serverCpuSeconds: Record<string, number>;
}

/**
 * Measures the machine around a run: the servers' CPU time (the product's cost outside its own
 * process: every history event is work for Temporal, every request for MinIO) and the machine's
 * busy time, which shows how much other work shared the cores while the figures were taken.
 */
export function meterHost(servers: Record<string, number | null>): { stop(): HostLoad } {
  const started = performance.now();
  const busy = hostBusySeconds();
  const serverStart = Object.fromEntries(
    Object.entries(servers).map(([name, pid]) => [name, pid === null ? null : cpuSecondsOf(pid)]),
  );
  return {
    stop() {
      const serverCpuSeconds: Record<string, number> = {};
      for (const [name, pid] of Object.entries(servers)) {
        const end = pid === null ? null : cpuSecondsOf(pid);
        const begin = serverStart[name];
        if (end !== null && begin !== null) serverCpuSeconds[name] = Math.round((end - begin) * 10) / 10;
      }
      return {
        wallSeconds: Math.round((performance.now() - started) / 100) / 10,
        hostBusyCpuSeconds: Math.round((hostBusySeconds() - busy) * 10) / 10,
        cores: os.cpus().length,
        serverCpuSeconds,
      };
    },
  };
}
