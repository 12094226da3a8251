/**
 * The CLI's AWS calls, with the ordinary SDK clients and the default credential chain (region
 * from AWS_REGION / the profile). Everything the commands read of a deployed pipeline comes
 * through here: its state machines (found by name), executions, their histories, and the
 * workload's log events.
 */
import { CloudWatchLogsClient, FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type ExecutionListItem,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { spotPhaseName, workloadLogGroupName } from '../contract/names';

export interface Clients {
  readonly sfn: SFNClient;
  readonly logs: CloudWatchLogsClient;
}

export function defaultClients(): Clients {
  return { sfn: new SFNClient({}), logs: new CloudWatchLogsClient({}) };
}

/** An error the user can act on, with its exit code (2: bad usage or input, 1: anything else). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The workload log group of a pipeline. */
export const workloadLogGroup = workloadLogGroupName;

export interface PipelineMachines {
  readonly pipelineName: string;
  readonly pipelineArn: string;
  readonly phaseArn?: string;
}

/** The pipeline's state machines, by their deterministic names (ListStateMachines, every page). */
export async function findPipeline(clients: Clients, pipelineName: string): Promise<PipelineMachines> {
  let nextToken: string | undefined;
  const found = new Map<string, string>();
  do {
    const page = await clients.sfn.send(new ListStateMachinesCommand({ maxResults: 1000, nextToken }));
    for (const sm of page.stateMachines ?? []) if (sm.name && sm.stateMachineArn) found.set(sm.name, sm.stateMachineArn);
    nextToken = page.nextToken;
  } while (nextToken);
  const pipelineArn = found.get(pipelineName);
  if (!pipelineArn) {
    const region = await clients.sfn.config.region().catch(() => 'this region');
    throw new CliError(`no state machine named ${pipelineName} in ${region}: is the pipeline deployed there (--pipeline NAME, --config FILE, AWS_REGION)?`);
  }
  return { pipelineName, pipelineArn, phaseArn: found.get(spotPhaseName(pipelineName)) };
}

/**
 * An execution's ARN from its name (or its ARN) under the pipeline's state machine. An ARN of another
 * state machine's execution (a phase execution copied from the console, say) is refused: a phase
 * execution is shown, and redriven, through its pipeline execution (README, "Watching and redriving").
 */
export function executionArnOf(stateMachineArn: string, nameOrArn: string): string {
  const parts = stateMachineArn.split(':');
  if (!nameOrArn.startsWith('arn:')) return [...parts.slice(0, 5), 'execution', parts[6], nameOrArn].join(':');
  const given = nameOrArn.split(':');
  if (given[5] !== 'execution' || given[6] !== parts[6]) {
    throw new CliError(`${nameOrArn} is not an execution of ${parts[6]}: name a pipeline execution (see: spot-pipeline runs); its phases' executions are shown and redriven through it`, 2);
  }
  return nameOrArn;
}

/** The most recent executions, newest first (ListExecutions pages until `limit`). */
export async function recentExecutions(clients: Clients, stateMachineArn: string, limit: number): Promise<ExecutionListItem[]> {
  const out: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: Math.min(1000, limit - out.length), nextToken }));
    out.push(...(page.executions ?? []));
    nextToken = page.nextToken;
  } while (nextToken && out.length < limit);
  return out.slice(0, limit);
}

export function describe(clients: Clients, executionArn: string): Promise<DescribeExecutionCommandOutput> {
  return clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
}

/** An execution's whole history, oldest first (GetExecutionHistory, every page). */
export async function history(clients: Clients, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

export async function startExecution(clients: Clients, stateMachineArn: string, input: unknown, name?: string): Promise<{ executionArn: string; startDate: Date }> {
  const out = await clients.sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input), ...(name ? { name } : {}) }));
  return { executionArn: out.executionArn!, startDate: out.startDate! };
}

export async function redriveExecution(clients: Clients, executionArn: string): Promise<Date | undefined> {
  const out = await clients.sfn.send(new RedriveExecutionCommand({ executionArn }));
  return out.redriveDate;
}

/** The log events of streams under a prefix, from a time on (FilterLogEvents, every page), oldest first. */
export async function logEvents(clients: Clients, logGroupName: string, logStreamNamePrefix: string, startTime?: number): Promise<FilteredLogEvent[]> {
  const events: FilteredLogEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients.logs.send(new FilterLogEventsCommand({ logGroupName, logStreamNamePrefix, startTime, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** One line for an error the SDK threw (no stack): what went wrong and, where it helps, what to do. */
export function describeAwsError(err: unknown): string {
  const e = err as { name?: string; message?: string };
  const name = e.name ?? 'Error';
  const message = e.message ?? String(err);
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) return 'no AWS credentials found: set AWS_PROFILE (aws sso login) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY';
  if (/Region is missing/i.test(message)) return 'no AWS region: set AWS_REGION or a region in your AWS profile';
  if (name === 'ExpiredTokenException' || name === 'ExpiredToken') return `your AWS credentials have expired (${message})`;
  return `${name}: ${message}`;
}
