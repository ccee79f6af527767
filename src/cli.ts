#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import {
  Client,
  Connection,
  WorkflowNotFoundError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { arrayFromPayloads } from '@temporalio/common';
import { readChunkRecords, readManifest } from './activities/store/manifest-store';
import { ConfigError, loadConfig, loadDotEnv, type AppConfig } from './config';
import { printable, printableJson } from './printable';
import { createS3Client } from './s3';
import { activityPollers, hostIdOf, streamInput as startedInput } from './stream-survey';
import { connectFailure, credentialsRefusal, temporalConnectionOptions } from './temporal-connection';
import { formatBytes } from './stream/format-bytes';
import { streamPathAttribute, streamRef } from './stream/identity';
import { StreamBytesUploadedKey, StreamPathKey, StreamStatusKey, visibilityString } from './stream/search-attributes';
import type { StreamProgress, StreamUploadInput } from './stream/types';
import { relativePath } from './watcher/relative-path';
import { streamOptionsFrom } from './watcher/stream-signaler';
import { pauseSignal, progressQuery, resumeSignal, STREAM_UPLOAD_WORKFLOW } from './workflows/definitions';

const USAGE = `usage: stream-uploader <command> [arguments]

commands:
  list [--all]          running streams and their hosts (--all: finished ones too)
  status <stream>       progress, chunks and last error of a stream
  chunks <stream>       every chunk record of the stream's manifest, one JSON object per line
  pause <stream>        stop uploading until resumed
  resume <stream>       end a pause, or retry a blocked stream
  cancel <stream>       stop the stream; its manifest says "cancelled"
  reupload <file>       check every chunk of a file against the bucket, send what is missing or different

<stream> is a workflow id (stream:<path>@<identity>) or a path relative to WATCH_DIR.
Configuration comes from the environment and .env, as for the app.`;

/** A mistake of the user's: printed without a stack trace, exit code 2. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, argument] = argv;
  if (!command || command === '--help' || command === 'help') {
    console.log(USAGE);
    return;
  }
  loadDotEnv(path.resolve('.env'));
  // Only `chunks` reads the bucket: the others work beside the local mode with Temporal alone.
  const config = loadConfig(process.env, process.cwd(), { needsBucket: command === 'chunks' });
  const connectionOptions = temporalConnectionOptions(config.temporal);
  const connection = await Connection.connect({ ...connectionOptions, connectTimeout: 5_000 }).catch(
    async (err: unknown) => {
      throw new UsageError((await connectFailure(connectionOptions, err)).message);
    },
  );
  const client = new Client({ connection, namespace: config.temporal.namespace });
  try {
    switch (command) {
      case 'list':
        return await list(client, argument === '--all');
      case 'status':
        return await status(client, await resolveStream(client, argument));
      case 'chunks':
        return await chunks(client, config, await resolveStream(client, argument));
      case 'pause':
        await (await resolveStream(client, argument)).signal(pauseSignal);
        return console.log('paused');
      case 'resume':
        await (await resolveStream(client, argument)).signal(resumeSignal);
        return console.log('resumed');
      case 'cancel':
        await (await resolveStream(client, argument)).cancel();
        return console.log('cancel requested');
      case 'reupload':
        return await reupload(client, config, argument);
      default:
        throw new UsageError(`unknown command "${command}"\n\n${USAGE}`);
    }
  } finally {
    await connection.close();
  }
}

async function list(client: Client, all: boolean): Promise<void> {
  const query = `WorkflowType = '${STREAM_UPLOAD_WORKFLOW}'${all ? '' : ` AND ExecutionStatus = 'Running'`}`;
  const rows = [['WORKFLOW ID', 'STATUS', 'UPLOADED', 'HOST', 'PATH']];
  const hosts = new Map<string, Awaited<ReturnType<typeof hostOf>>>();
  for await (const execution of client.workflow.list({ query })) {
    const attributes = execution.typedSearchAttributes;
    let hostCell = '';
    if (execution.status.name === 'RUNNING') {
      const { fileTaskQueue } = await streamInput(client, client.workflow.getHandle(execution.workflowId));
      const host = hosts.get(fileTaskQueue) ?? (await hostOf(client, fileTaskQueue));
      hosts.set(fileTaskQueue, host);
      hostCell = `${hostIdOf(fileTaskQueue)}${host.polled ? '' : ' (no worker)'}`;
    }
    rows.push([
      printable(execution.workflowId),
      printable(attributes.get(StreamStatusKey) ?? execution.status.name.toLowerCase()),
      formatBytes(attributes.get(StreamBytesUploadedKey) ?? 0),
      printable(hostCell),
      printable(attributes.get(StreamPathKey) ?? ''),
    ]);
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows)
    console.log(
      row
        .map((cell, column) => cell.padEnd(widths[column]))
        .join('  ')
        .trimEnd(),
    );
  for (const host of hosts.values()) if (host.hint) console.log(`\n${printable(host.hint)}`);
}

async function status(client: Client, handle: WorkflowHandle): Promise<void> {
  const description = await handle.describe();
  const report: Record<string, unknown> = { workflowId: handle.workflowId, execution: description.status.name };
  if (description.status.name === 'RUNNING') {
    // Before the query, which would wait for a worker that may be gone.
    const input = await streamInput(client, handle);
    report.host = await hostOf(client, input.fileTaskQueue);
    Object.assign(report, withFollowProgress(await handle.query(progressQuery), description, input.chunkSize, client));
  } else if (description.status.name === 'COMPLETED') {
    Object.assign(report, await handle.result());
  } else {
    report.status = description.typedSearchAttributes.get(StreamStatusKey);
    report.lastError = await handle.result().then(
      () => undefined,
      (err: Error) => (err.cause instanceof Error ? err.cause.message : err.message),
    );
  }
  console.log(printableJson(report, 2));
}

/** Prints the stream's chunk records from the bucket, page by page, as its manifest lists them. */
async function chunks(client: Client, config: AppConfig, handle: WorkflowHandle): Promise<void> {
  const { prefix } = (await streamInput(client, handle)).stream;
  const s3 = createS3Client(config.s3);
  try {
    const store = { s3, bucket: config.s3.bucket };
    const stored = await readManifest(store, prefix);
    if (!stored) throw new UsageError(`no manifest of ${handle.workflowId} in s3://${config.s3.bucket}/${prefix}/ yet`);
    const { chunkCount, chunkRecords } = stored.manifest;
    for (let first = 0; first < chunkCount; first += chunkRecords.perPage) {
      const records = await readChunkRecords(store, prefix, stored, first, first + chunkRecords.perPage);
      process.stdout.write(records.map((record) => `${printableJson(record)}\n`).join(''));
    }
  } finally {
    s3.destroy();
  }
}

/**
 * The host queue the stream's activities run on, and whether a worker polls it: a host gone for
 * good leaves its streams waiting, which only this shows.
 */
async function hostOf(client: Client, taskQueue: string) {
  const polled = (await activityPollers(client, taskQueue)) > 0;
  return {
    taskQueue,
    polled,
    ...(polled
      ? {}
      : {
          hint: `no worker polls ${taskQueue}: start the app on that host (HOST_ID is the part after "@"), or terminate the stream`,
        }),
  };
}

/**
 * The workflow learns a follow's chunks when the follow ends (after up to 64 chunks or 5 minutes);
 * the follow's heartbeat carries them on the way, at most one heartbeat interval late.
 */
function withFollowProgress(
  progress: StreamProgress,
  description: WorkflowExecutionDescription,
  chunkSize: number,
  client: Client,
): StreamProgress {
  const converter = client.options.loadedDataConverter.payloadConverter;
  const follows = (description.raw.pendingActivities ?? []).filter(
    (activity) => activity.activityType?.name === 'followFile',
  );
  const heartbeats = follows.flatMap(
    (activity) => arrayFromPayloads(converter, activity.heartbeatDetails?.payloads) as Array<{ nextIndex?: number }>,
  );
  const followed = Math.max(0, ...heartbeats.map((details) => details?.nextIndex ?? 0));
  if (followed <= progress.chunksUploaded) return progress;
  return { ...progress, chunksUploaded: followed, uploadedBytes: followed * chunkSize };
}

async function streamInput(client: Client, handle: WorkflowHandle): Promise<StreamUploadInput> {
  const input = await startedInput(client, handle.workflowId);
  if (!input) throw new UsageError(`${handle.workflowId} is not a stream's workflow`);
  return input;
}

/** Starts a run that trusts no earlier manifest: chunks missing or different in the bucket are sent again. */
async function reupload(client: Client, config: AppConfig, file: string | undefined): Promise<void> {
  if (!file) throw new UsageError(`reupload needs a file\n\n${USAGE}`);
  // Real paths on both sides: a symlink inside WATCH_DIR must not lead the upload outside it.
  const real = await fs.promises.realpath(path.resolve(file)).catch(() => {
    throw new UsageError(`${file}: no such file`);
  });
  const relPath = relativePath(await fs.promises.realpath(config.watchDir), real);
  if (relPath.startsWith('..') || path.isAbsolute(relPath))
    throw new UsageError(`${file} is not inside WATCH_DIR (${config.watchDir})`);
  const stats = await fs.promises.lstat(real);
  if (!stats.isFile()) throw new UsageError(`${file} is not a file`);
  const stream = streamRef(relPath, { ino: stats.ino, birthtimeMs: stats.birthtimeMs }, config.s3.prefix);
  const handle = client.workflow.getHandle(stream.workflowId);
  const previous = await handle.describe().catch(() => null);
  if (previous?.status.name === 'RUNNING')
    throw new UsageError(
      `${relPath} is still being uploaded (${stream.workflowId}); it is checked against the bucket when it ends`,
    );
  const input: StreamUploadInput = {
    stream,
    ...streamOptionsFrom(config),
    // The host that recorded the file reads it again, wherever this command runs.
    ...(previous ? { fileTaskQueue: (await streamInput(client, handle)).fileTaskQueue } : {}),
    file: { size: stats.size, mtimeMs: stats.mtimeMs },
    reverifyBucket: true,
  };
  if ((await activityPollers(client, input.fileTaskQueue)) === 0)
    throw new UsageError(
      `no app polls ${input.fileTaskQueue}: run this where the app runs, with its HOST_ID and TEMPORAL_TASK_QUEUE`,
    );
  await client.workflow.start(STREAM_UPLOAD_WORKFLOW, {
    workflowId: stream.workflowId,
    taskQueue: config.temporal.taskQueue,
    args: [input],
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    staticSummary: `Re-upload ${relPath}`,
    typedSearchAttributes: [{ key: StreamPathKey, value: streamPathAttribute(relPath) }],
  });
  console.log(`re-upload of ${printable(relPath)} started: ${printable(stream.workflowId)}`);
}

/** A workflow id, or the newest stream of a path relative to WATCH_DIR. */
async function resolveStream(client: Client, stream: string | undefined): Promise<WorkflowHandle> {
  if (!stream) throw new UsageError(`this command needs a stream\n\n${USAGE}`);
  if (stream.startsWith('stream:')) {
    const handle = client.workflow.getHandle(stream);
    await handle.describe().catch((err: unknown) => {
      throw err instanceof WorkflowNotFoundError ? new UsageError(`unknown stream "${stream}"`) : err;
    });
    return handle;
  }
  for await (const execution of client.workflow.list({
    query: `WorkflowType = '${STREAM_UPLOAD_WORKFLOW}' AND StreamPath = ${visibilityString(streamPathAttribute(stream))}`,
  })) {
    // Visibility lists the newest first.
    return client.workflow.getHandle(execution.workflowId);
  }
  throw new UsageError(`unknown stream "${stream}": no workflow id and no stream of that path`);
}

main(process.argv.slice(2)).catch((err: Error) => {
  const refusal = credentialsRefusal(err);
  const message =
    err instanceof UsageError || err instanceof ConfigError
      ? err.message
      : refusal
        ? `${err.message}: ${refusal}`
        : (err.stack ?? err.message);
  // A message may quote a file name or a stream given on the command line.
  console.error(message.split('\n').map(printable).join('\n'));
  process.exit(err instanceof UsageError ? 2 : 1);
});
