import type { Client } from '@temporalio/client';
import { arrayFromPayloads } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { StreamStatusKey, visibilityString } from './stream/search-attributes';
import type { StreamUploadInput } from './stream/types';
import { STREAM_UPLOAD_WORKFLOW } from './workflows/definitions';

/** The phases a running stream's StreamStatus search attribute can be in. */
export const RUNNING_PHASES = ['recording', 'paused', 'blocked'] as const;
export type RunningPhase = (typeof RUNNING_PHASES)[number];

/** What Temporal says of the streams running on a task queue: the metrics' view of the fleet. */
export interface StreamSurvey {
  running: number;
  phases: Record<RunningPhase, number>;
  /** Each host whose queue has running streams: how many, and how many workers poll it. */
  hosts: { host: string; streams: number; pollers: number }[];
}

/** The host part of a host queue's name (`<TEMPORAL_TASK_QUEUE>@<HOST_ID>`). */
export function hostIdOf(fileTaskQueue: string): string {
  return fileTaskQueue.slice(fileTaskQueue.lastIndexOf('@') + 1);
}

/** Workers polling the activity task queue `taskQueue` (Temporal remembers pollers for minutes). */
export async function activityPollers(client: Client, taskQueue: string): Promise<number> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return pollers?.length ?? 0;
}

/**
 * The input the stream's current run started with (undefined if it is not a stream's workflow):
 * its names, as they were derived when it started (a long path's are shortened, so they cannot be
 * derived back from the workflow id).
 */
export async function streamInput(client: Client, workflowId: string): Promise<StreamUploadInput | undefined> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId },
    maximumPageSize: 1,
  });
  const started = history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  const [input] = arrayFromPayloads(client.options.loadedDataConverter.payloadConverter, started?.input?.payloads);
  return input as StreamUploadInput | undefined;
}

/**
 * Surveys the streams running on `taskQueue`, cancelled (with its retries) when the signal aborts.
 * The host queue is not a search attribute, so each run's is read from its history once and kept
 * while the run is running: a scrape that times out still leaves the next one less to read.
 */
export function streamSurveyor(client: Client, taskQueue: string): (signal: AbortSignal) => Promise<StreamSurvey> {
  const hostQueues = new Map<string, string>();
  const query = `WorkflowType = '${STREAM_UPLOAD_WORKFLOW}' AND ExecutionStatus = 'Running' AND TaskQueue = ${visibilityString(taskQueue)}`;
  return (signal) =>
    client.withAbortSignal(signal, async () => {
      const phases: Record<RunningPhase, number> = { recording: 0, paused: 0, blocked: 0 };
      const streamsPerQueue = new Map<string, number>();
      const running = new Set<string>();
      for await (const execution of client.workflow.list({ query })) {
        running.add(execution.runId);
        const phase = execution.typedSearchAttributes.get(StreamStatusKey);
        if ((RUNNING_PHASES as readonly string[]).includes(phase ?? '')) phases[phase as RunningPhase]++;
        let queue = hostQueues.get(execution.runId);
        if (queue === undefined) {
          queue = (await streamInput(client, execution.workflowId))?.fileTaskQueue;
          if (queue === undefined) continue;
          hostQueues.set(execution.runId, queue);
        }
        streamsPerQueue.set(queue, (streamsPerQueue.get(queue) ?? 0) + 1);
      }
      for (const runId of hostQueues.keys()) if (!running.has(runId)) hostQueues.delete(runId);
      const hosts = await Promise.all(
        [...streamsPerQueue].map(async ([queue, streams]) => ({
          host: hostIdOf(queue),
          streams,
          pollers: await activityPollers(client, queue),
        })),
      );
      return { running: running.size, phases, hosts };
    });
}
