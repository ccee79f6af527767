import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import type { HostLoad, ProcessCost } from './process-stats';

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
  /**
   * Where a stream's time goes, from the histories' timestamps: per activity type, how often it ran,
   * mean seconds waiting in the task queue (scheduled to started) and running (started to closed);
   * and the mean turnaround of a workflow task (scheduled to completed), the round trip between
   * one activity's end and the next one's start.
   */
  activities: Record<string, { count: number; queuedSeconds: number; runSeconds: number }>;
  workflowTasks: { count: number; meanSeconds: number };
  /**
   * A stream's two ends, means over the workflows: from `since` (the files appearing) to its
   * first run's start (the watcher's detection and the start's round trip), and from its last
   * activity's close to its last run's close (the workflow's last steps).
   */
  ends: { startSeconds?: number; closeSeconds: number };
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const { EventType } = temporal.api.enums.v1;

/** When a run's first and last events were written, and its last activity closed (0 without one). */
interface RunSpan {
  firstMs: number;
  lastMs: number;
  lastActivityClosedMs: number;
}

/** Accumulates the activity and workflow task timings of one run's events into `into`. */
function timeEvents(
  events: HistoryEvent[],
  into: { activities: Map<string, { count: number; queuedMs: number; runMs: number }>; workflowTasks: number[] },
): RunSpan {
  const span: RunSpan = {
    firstMs: events.length > 0 ? tsToMs(events[0].eventTime) : 0,
    lastMs: events.length > 0 ? tsToMs(events[events.length - 1].eventTime) : 0,
    lastActivityClosedMs: 0,
  };
  const at = (event: HistoryEvent) => tsToMs(event.eventTime);
  const scheduled = new Map<string, { type: string; at: number; startedAt?: number }>();
  const tasks = new Map<string, number>();
  for (const event of events) {
    const id = String(event.eventId);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        scheduled.set(id, {
          type: event.activityTaskScheduledEventAttributes?.activityType?.name ?? 'unknown',
          at: at(event),
        });
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const activity = scheduled.get(String(event.activityTaskStartedEventAttributes?.scheduledEventId));
        if (activity) activity.startedAt = at(event);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const attributes =
          event.activityTaskCompletedEventAttributes ??
          event.activityTaskFailedEventAttributes ??
          event.activityTaskTimedOutEventAttributes ??
          event.activityTaskCanceledEventAttributes;
        span.lastActivityClosedMs = at(event);
        const activity = scheduled.get(String(attributes?.scheduledEventId));
        if (!activity?.startedAt) break;
        const totals = into.activities.get(activity.type) ?? { count: 0, queuedMs: 0, runMs: 0 };
        totals.count++;
        totals.queuedMs += activity.startedAt - activity.at;
        totals.runMs += at(event) - activity.startedAt;
        into.activities.set(activity.type, totals);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        tasks.set(id, at(event));
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
        const scheduledAt = tasks.get(String(event.workflowTaskCompletedEventAttributes?.scheduledEventId));
        if (scheduledAt !== undefined) into.workflowTasks.push(at(event) - scheduledAt);
        break;
      }
    }
  }
  return span;
}

export interface AppCost extends ProcessCost {
  bytes: number;
  cpuSecondsPerGb: number;
  history: HistoryCost;
  /** The servers' CPU time and the machine's load over the same span. */
  host: HostLoad;
}

const VISIBILITY_WAIT_MS = 10_000;

function eventTypeName(type: temporal.api.enums.v1.EventType | null | undefined): string {
  return (temporal.api.enums.v1.EventType[type ?? 0] ?? 'unknown').replace(/^EVENT_TYPE_/, '').toLowerCase();
}

/**
 * Counts the history events of every run of the given workflows (found through visibility);
 * `sinceMs` is when their files appeared, if the run knows it.
 */
export async function historyCost(
  client: Client,
  workflowIds: string[],
  chunks: number,
  sinceMs?: number,
): Promise<HistoryCost> {
  const byType: Record<string, number> = {};
  const timings = {
    activities: new Map<string, { count: number; queuedMs: number; runMs: number }>(),
    workflowTasks: [] as number[],
  };
  let runs = 0;
  let events = 0;
  const startsMs: number[] = [];
  const closesMs: number[] = [];
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
    const spans: RunSpan[] = [];
    for (const runId of runIds) {
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      for (const event of history.events ?? []) {
        const name = eventTypeName(event.eventType);
        byType[name] = (byType[name] ?? 0) + 1;
        events++;
      }
      spans.push(timeEvents(history.events ?? [], timings));
    }
    const firstMs = Math.min(...spans.map((span) => span.firstMs));
    const lastRun = spans.reduce((last, span) => (span.lastMs > last.lastMs ? span : last));
    const lastActivityClosedMs = Math.max(...spans.map((span) => span.lastActivityClosedMs));
    if (sinceMs !== undefined) startsMs.push(firstMs - sinceMs);
    if (lastActivityClosedMs > 0) closesMs.push(lastRun.lastMs - lastActivityClosedMs);
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
    activities: Object.fromEntries(
      [...timings.activities].map(([type, t]) => [
        type,
        {
          count: t.count,
          queuedSeconds: round(t.queuedMs / t.count / 1000, 3),
          runSeconds: round(t.runMs / t.count / 1000, 3),
        },
      ]),
    ),
    workflowTasks: {
      count: timings.workflowTasks.length,
      meanSeconds: round(
        timings.workflowTasks.reduce((sum, ms) => sum + ms, 0) / Math.max(1, timings.workflowTasks.length) / 1000,
        3,
      ),
    },
    ends: {
      ...(startsMs.length > 0 ? { startSeconds: meanSeconds(startsMs) } : {}),
      closeSeconds: meanSeconds(closesMs),
    },
  };
}

function meanSeconds(ms: number[]): number {
  return round(ms.reduce((sum, value) => sum + value, 0) / Math.max(1, ms.length) / 1000, 3);
}

export function appCost(process: ProcessCost, host: HostLoad, bytes: number, history: HistoryCost): AppCost {
  return { ...process, bytes, cpuSecondsPerGb: round(process.cpuSeconds / (bytes / 1e9), 2), history, host };
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
