/**
 * Reads one pipeline execution from Step Functions (DescribeExecution, its history, each phase
 * execution's history) into its picture (picture.ts).
 */
import type { PipelineConfig } from '../contract/config';
import { allPhases, buildStages, buildStateNames, shardNames } from '../contract/config';
import { describe, history, type Clients } from './aws';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { childExecutionArns, endOf, phaseExecution, runPicture, type RunPicture } from './picture';

/**
 * What the local config declares, when it is this pipeline's config: the phases in order, their
 * budgets, the shards of each sharded phase, the build stages (with their states' names).
 */
export function phaseOrder(
  config: PipelineConfig | undefined,
  pipelineName: string,
): { order: string[]; budgets: Map<string, number>; shards: Map<string, string[]>; builds: { name: string; artifact: string; check: string; record: string }[] } {
  if (!config || config.pipelineName !== pipelineName) return { order: [], budgets: new Map(), shards: new Map(), builds: [] };
  const phases = allPhases(config);
  return {
    order: phases.map((p) => p.name),
    budgets: new Map(phases.map((p) => [p.name, p.budgetSeconds])),
    shards: new Map(phases.flatMap((p) => {
      const names = shardNames(p);
      return names ? [[p.name, names] as [string, string[]]] : [];
    })),
    builds: buildStages(config).map((b) => ({ name: b.name, artifact: b.artifact, ...buildStateNames(b.name) })),
  };
}

/**
 * One pipeline execution's picture. `closed` keeps the histories of phase executions that have ended
 * (they never change again) across calls: `logs --follow` then reads again only what still runs.
 */
export async function fetchRun(
  clients: Clients,
  executionArn: string,
  options: { config?: PipelineConfig; pipelineName: string; closed?: Map<string, HistoryEvent[]> },
): Promise<RunPicture> {
  const execution = await describe(clients, executionArn);
  const events = await history(clients, executionArn);
  const children = [];
  for (const arn of childExecutionArns(events)) {
    const childEvents = options.closed?.get(arn) ?? (await history(clients, arn));
    if (options.closed && endOf(childEvents)) options.closed.set(arn, childEvents);
    children.push(phaseExecution(arn, childEvents));
  }
  const { order, budgets, shards, builds } = phaseOrder(options.config, options.pipelineName);
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
    { phaseOrder: order, budgets, shards, buildStages: builds },
  );
}
