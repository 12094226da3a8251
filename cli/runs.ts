/** `runs [--limit N]`: the pipeline's recent executions, one line each, with their cost when known. */
import { findPipeline, recentExecutions } from './aws';
import type { Context } from './context';
import { fetchRun } from './fetch';
import { renderRuns, type RunsRow } from './format';

export async function runsCommand(ctx: Context, limit: number): Promise<number> {
  const machines = await findPipeline(ctx.clients, ctx.pipelineName);
  const executions = await recentExecutions(ctx.clients, machines.pipelineArn, limit);
  const rows: RunsRow[] = [];
  for (const e of executions) {
    // The cost: what the phases' attempts recorded (their FinishPhase and HandleFailure records).
    let costUsd: number | undefined;
    let costPartial = false;
    try {
      const run = await fetchRun(ctx.clients, e.executionArn!, { config: ctx.config, pipelineName: ctx.pipelineName });
      costUsd = run.phases.some((p) => p.launches.length > 0) ? run.costUsd : undefined;
      costPartial = run.phases.some((p) => p.unpriced > 0);
    } catch (err) {
      // A history Step Functions no longer keeps (90 days after the end) leaves the cost unknown.
      if ((err as { name?: string }).name !== 'ExecutionDoesNotExist') throw err;
    }
    rows.push({
      name: e.name!,
      executionArn: e.executionArn!,
      status: e.status!,
      startDate: e.startDate!.getTime(),
      ...(e.stopDate ? { stopDate: e.stopDate.getTime() } : {}),
      redriveCount: e.redriveCount ?? 0,
      ...(costUsd === undefined ? {} : { costUsd }),
      ...(costPartial ? { costPartial } : {}),
    });
  }
  if (ctx.json) ctx.out(JSON.stringify(rows.map((r) => ({ ...r, startDate: new Date(r.startDate).toISOString(), stopDate: r.stopDate === undefined ? null : new Date(r.stopDate).toISOString(), costUsd: r.costUsd ?? null })), null, 2));
  else ctx.out(rows.length === 0 ? `no executions of ${ctx.pipelineName} yet` : renderRuns(rows));
  return 0;
}
