/** `status [EXECUTION]`: the picture of one pipeline execution (default: the latest). */
import { CliError, executionArnOf, findPipeline, recentExecutions, type PipelineMachines } from './aws';
import type { Context } from './context';
import { fetchRun } from './fetch';
import { renderStatus } from './format';
import type { RunPicture } from './picture';

/** The execution ARN a command means: the one named (name or ARN), or the latest. */
export async function chosenExecution(ctx: Context, machines: PipelineMachines, execution: string | undefined): Promise<string> {
  if (execution) return executionArnOf(machines.pipelineArn, execution);
  const [latest] = await recentExecutions(ctx.clients, machines.pipelineArn, 1);
  if (!latest?.executionArn) throw new CliError(`no executions of ${ctx.pipelineName} yet (start one: spot-pipeline start)`);
  return latest.executionArn;
}

/** The picture of the execution a command means; ExecutionDoesNotExist as one clear line. */
export async function chosenRun(ctx: Context, execution: string | undefined): Promise<RunPicture> {
  const machines = await findPipeline(ctx.clients, ctx.pipelineName);
  const arn = await chosenExecution(ctx, machines, execution);
  try {
    return await fetchRun(ctx.clients, arn, { config: ctx.config, pipelineName: ctx.pipelineName });
  } catch (err) {
    if ((err as { name?: string }).name === 'ExecutionDoesNotExist') throw new CliError(`no execution ${execution ?? arn} of ${ctx.pipelineName} (see: spot-pipeline runs)`);
    throw err;
  }
}

export async function statusCommand(ctx: Context, execution: string | undefined, timeZone = 'UTC'): Promise<number> {
  const run = await chosenRun(ctx, execution);
  ctx.out(ctx.json ? JSON.stringify(run, null, 2) : renderStatus(run, Date.now(), timeZone));
  return 0;
}
