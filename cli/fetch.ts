/**
 * Reads one pipeline execution from Step Functions (DescribeExecution, its history, each phase
 * execution's history) into its picture (picture.ts).
 */
import type { PipelineConfig } from '../contract/config';
import { allPhases } from '../contract/config';
import { describe, history, type Clients } from './aws';
import { childExecutionArns, phaseExecution, runPicture, type RunPicture } from './picture';

/** The phases the local config declares, in order, when it is this pipeline's config. */
export function phaseOrder(config: PipelineConfig | undefined, pipelineName: string): { order: string[]; budgets: Map<string, number> } {
  if (!config || config.pipelineName !== pipelineName) return { order: [], budgets: new Map() };
  const phases = allPhases(config);
  return { order: phases.map((p) => p.name), budgets: new Map(phases.map((p) => [p.name, p.budgetSeconds])) };
}

export async function fetchRun(clients: Clients, executionArn: string, options: { config?: PipelineConfig; pipelineName: string }): Promise<RunPicture> {
  const execution = await describe(clients, executionArn);
  const events = await history(clients, executionArn);
  const children = [];
  for (const arn of childExecutionArns(events)) children.push(phaseExecution(arn, await history(clients, arn)));
  const { order, budgets } = phaseOrder(options.config, options.pipelineName);
  return runPicture(
    {
      executionArn,
      status: execution.status ?? 'RUNNING',
      startDate: execution.startDate,
      stopDate: execution.stopDate,
      redriveCount: execution.redriveCount,
      input: execution.input,
      error: execution.error,
      cause: execution.cause,
    },
    events,
    children,
    { phaseOrder: order, budgets },
  );
}
