import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { ProcessCost } from './process-stats';

/**
 * What the product's work costs: the app process's CPU and memory (process-stats.ts) per byte,
 * and Temporal's: the events its workflows write to history per chunk. Every event is a write to
 * the Temporal server's database, and most stand for a round trip between worker and server.
 */

export interface HistoryCost {
  workflows: number;
  /** Runs of those workflows, continue-as-new and later re-runs included. */
  runs: number;
  events: number;
  chunks: number;
  eventsPerChunk: number;
  /** Events by type, e.g. `activity_task_scheduled`, `workflow_execution_signaled`, per chunk. */
  perChunkByType: Record<string, number>;
  /**
   * Round trips per chunk: workflow tasks (each one the worker polls, runs and answers), activity
   * executions, signals (the watcher's), timers; from the `*_scheduled`/`signaled`/`started` counts.
   */
  perChunk: { workflowTasks: number; activities: number; signals: number; timers: number };
}

export interface AppCost extends ProcessCost {
  bytes: number;
  cpuSecondsPerGb: number;
  history: HistoryCost;
}

const VISIBILITY_WAIT_MS = 10_000;

function eventTypeName(type: temporal.api.enums.v1.EventType | null | undefined): string {
  return (temporal.api.enums.v1.EventType[type ?? 0] ?? 'unknown').replace(/^EVENT_TYPE_/, '').toLowerCase();
}

/** Counts the history events of every run of the given workflows (found through visibility). */
export async function historyCost(client: Client, workflowIds: string[], chunks: number): Promise<HistoryCost> {
  const byType: Record<string, number> = {};
  let runs = 0;
  let events = 0;
  for (const workflowId of workflowIds) {
    const query = `WorkflowId = '${workflowId.replaceAll("'", "\\'")}'`;
    const deadline = Date.now() + VISIBILITY_WAIT_MS;
    let runIds: string[] = [];
    // Visibility is eventually consistent: a run that just closed may take a moment to be listed.
    while (runIds.length === 0 && Date.now() < deadline) {
      runIds = [];
      for await (const execution of client.workflow.list({ query })) runIds.push(execution.runId);
      if (runIds.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (runIds.length === 0) throw new Error(`no run of ${workflowId} found in Temporal's visibility`);
    for (const runId of runIds) {
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      for (const event of history.events ?? []) {
        const name = eventTypeName(event.eventType);
        byType[name] = (byType[name] ?? 0) + 1;
        events++;
      }
    }
    runs += runIds.length;
  }
  const perChunk = (count: number) => (chunks > 0 ? count / chunks : 0);
  const perChunkByType = Object.fromEntries(
    Object.entries(byType)
      .sort(([, a], [, b]) => b - a)
      .map(([type, count]) => [type, round(perChunk(count), 2)]),
  );
  const perChunkOf = (type: string) => round(perChunk(byType[type] ?? 0), 2);
  return {
    workflows: workflowIds.length,
    runs,
    events,
    chunks,
    eventsPerChunk: round(perChunk(events), 2),
    perChunkByType,
    perChunk: {
      workflowTasks: perChunkOf('workflow_task_scheduled'),
      activities: perChunkOf('activity_task_scheduled'),
      signals: perChunkOf('workflow_execution_signaled'),
      timers: perChunkOf('timer_started'),
    },
  };
}

export function appCost(process: ProcessCost, bytes: number, history: HistoryCost): AppCost {
  return { ...process, bytes, cpuSecondsPerGb: round(process.cpuSeconds / (bytes / 1e9), 2), history };
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
