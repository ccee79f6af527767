import { appReadsEnv } from './app';
import { runAppBacklog, type AppBacklogRun } from './backlog';
import type { BenchContext } from './context';
import { round } from './cost';
import { backlogFiles } from './fixtures';

/**
 * Scale-out: the backlog's files split over two app processes, each watching its own directory,
 * against one Temporal server, set against one process uploading them all. With HOST_ID in the
 * app under test the two share the workflows' task queue and each reads only its own files (its
 * host's queue); without it, each runs on a queue of its own (see runAppBacklog). An app with
 * roles is also run as the issue's layout of many hosts: two edges beside the files and one
 * workflow process.
 */

export interface ScaleOutResult {
  oneProcess: Pick<AppBacklogRun, 'seconds' | 'mbPerSecond'> & { from: 'backlog section' | 'this section' };
  twoProcesses: AppBacklogRun;
  /** Two processes' throughput over one's. */
  speedup: number;
  /** Two edges and a workflow process; absent for an app without roles. */
  twoEdges?: AppBacklogRun;
  /** Their throughput over one all-in-one process's. */
  edgesSpeedup?: number;
}

export async function runScaleOut(ctx: BenchContext, oneProcess?: AppBacklogRun): Promise<ScaleOutResult> {
  const { files, distinct, fileBytes } = ctx.plan.backlog;
  const cached = await backlogFiles(files, distinct, fileBytes, ctx.log);
  const single = oneProcess ?? (await runAppBacklog(ctx, cached, 1, 'scale-out-1'));
  ctx.log('scale-out: two app processes');
  const twoProcesses = await runAppBacklog(ctx, cached, 2, 'scale-out-2');
  let twoEdges: AppBacklogRun | undefined;
  if (appReadsEnv(ctx.appDir, 'ROLE')) {
    ctx.log('scale-out: two edge processes and a workflow process');
    twoEdges = await runAppBacklog(ctx, cached, 2, 'scale-out-edges', 'edges');
  }
  return {
    oneProcess: {
      seconds: single.seconds,
      mbPerSecond: single.mbPerSecond,
      from: oneProcess ? 'backlog section' : 'this section',
    },
    twoProcesses,
    speedup: round(twoProcesses.mbPerSecond / single.mbPerSecond, 2),
    ...(twoEdges && { twoEdges, edgesSpeedup: round(twoEdges.mbPerSecond / single.mbPerSecond, 2) }),
  };
}
