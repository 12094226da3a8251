/**
 * The picture of one pipeline execution, computed (purely) from the execution histories Step
 * Functions keeps: the pipeline execution's own, which names each phase's SpotPhase executions
 * (the TaskSubmitted events of its startExecution.sync tasks), and each of those, whose
 * FinishPhase summary and HandleFailure records list the phase's attempts (contract/job.ts
 * AttemptRecord: pool, outcome, cost, market), and whose end says why it failed.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { buildStateNames, shardStateNames } from '../contract/config';
import type { AttemptRecord } from '../contract/job';
import { buildTimeline, byStart, phaseTimeline, type StateExit, type TimelineLine } from '../contract/timeline';

/** SKIPPED: a build stage whose artifact was already built (nothing launched). */
export type PhaseStatus = 'SUCCEEDED' | 'FAILED' | 'RUNNING' | 'NOT_RUN' | 'SKIPPED';

export interface Launch {
  readonly attempt: number;
  readonly pool: string | null;
  readonly outcome: string;
  readonly market: 'spot' | 'on-demand';
  /** USD; undefined when not known (no price, or an attempt cut short before it was recorded). */
  readonly costUsd?: number;
  readonly instanceId: string | null;
  readonly reasonCode?: string;
  readonly detail?: string;
  /** The SpotPhase execution the attempt ran in. */
  readonly execution: string;
  readonly shard?: string;
}

/** A workload command SSM ran for a phase: where its output is (log streams <commandId>/<instanceId>/...). */
export interface CommandRun {
  readonly attempt: number;
  readonly commandId: string;
  readonly instanceId: string;
}

/** One SpotPhase execution, from its history. */
export interface PhaseExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly phase: string;
  readonly shard?: string;
  readonly status: string;
  readonly startedAt: number;
  readonly stoppedAt?: number;
  readonly budgetSeconds?: number;
  readonly error?: string;
  readonly cause?: string;
  readonly launches: Launch[];
  readonly commands: CommandRun[];
  /** Its states as they exited (name, time, output): what the timeline tells (contract/timeline.ts). */
  readonly exits: StateExit[];
}

export interface ShardPicture {
  readonly name: string;
  readonly status: string;
  readonly attempts: number;
  readonly interruptions: number;
  readonly seconds: number;
  readonly error?: string;
  readonly launches: Launch[];
}

export interface PhasePicture {
  readonly name: string;
  readonly status: PhaseStatus;
  readonly attempts: number;
  readonly interruptions: number;
  /** Seconds its executions ran (a sharded phase: its first shard's start to its last shard's end). */
  readonly seconds: number;
  readonly budgetSeconds?: number;
  readonly costUsd: number;
  readonly wastedUsd: number;
  /** Launches whose cost is not known (not in costUsd). */
  readonly unpriced: number;
  readonly launches: Launch[];
  readonly error?: string;
  readonly cause?: string;
  readonly executions: PhaseExecution[];
  readonly shards?: ShardPicture[];
}

export interface RunPicture {
  readonly executionArn: string;
  readonly name: string;
  readonly status: string;
  readonly startedAt: number;
  readonly stoppedAt?: number;
  readonly redriveCount: number;
  readonly input: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly phases: PhasePicture[];
  readonly costUsd: number;
  readonly wastedUsd: number;
  readonly interruptions: number;
  /** What happened, in order: the run's start (and redrives), each phase execution's lines, the run's end. */
  readonly timeline: TimelineLine[];
}

const parse = (text: string | undefined): unknown => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};
const time = (d: Date | undefined) => (d ? d.getTime() : 0);
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

/** The SpotPhase executions a pipeline execution's history names, in the order it submitted them (each once). */
export function childExecutionArns(pipelineHistory: readonly HistoryEvent[]): string[] {
  const arns: string[] = [];
  for (const e of pipelineHistory) {
    const text = e.type === 'TaskSubmitted' ? e.taskSubmittedEventDetails?.output : e.type === 'TaskSucceeded' ? e.taskSucceededEventDetails?.output : undefined;
    const arn = (parse(text) as { ExecutionArn?: unknown } | undefined)?.ExecutionArn;
    if (typeof arn === 'string' && !arns.includes(arn)) arns.push(arn);
  }
  return arns;
}

/** How an execution ended, from the last event of its history (undefined while it runs). */
export function endOf(events: readonly HistoryEvent[]): { status: string; at: number; error?: string; cause?: string; output?: string } | undefined {
  const last = events.at(-1);
  if (!last) return undefined;
  const at = time(last.timestamp);
  switch (last.type) {
    case 'ExecutionSucceeded':
      return { status: 'SUCCEEDED', at, output: last.executionSucceededEventDetails?.output };
    case 'ExecutionFailed':
      return { status: 'FAILED', at, error: last.executionFailedEventDetails?.error, cause: last.executionFailedEventDetails?.cause };
    case 'ExecutionAborted':
      return { status: 'ABORTED', at, error: last.executionAbortedEventDetails?.error, cause: last.executionAbortedEventDetails?.cause };
    case 'ExecutionTimedOut':
      return { status: 'TIMED_OUT', at, error: last.executionTimedOutEventDetails?.error ?? 'States.Timeout', cause: last.executionTimedOutEventDetails?.cause };
    default:
      return undefined;
  }
}

type Job = { attempt?: number; status?: string; instance?: { id?: string; instanceType?: string; availabilityZone?: string; market?: string }; command?: { id?: string }; history?: AttemptRecord[] };

/** One SpotPhase execution, from its ARN and history. */
export function phaseExecution(executionArn: string, events: readonly HistoryEvent[]): PhaseExecution {
  const started = events.find((e) => e.type === 'ExecutionStarted');
  const input = parse(started?.executionStartedEventDetails?.input) as { phase?: { name?: string; budgetSeconds?: number; shard?: { name?: string } } } | undefined;
  const end = endOf(events);
  const name = executionArn.split(':').at(-1) ?? executionArn;
  const records = new Map<number, AttemptRecord>();
  const commands: CommandRun[] = [];
  let job: Job | undefined;
  const exits: StateExit[] = [];
  for (const e of events) {
    if (e.type !== 'TaskStateExited' && e.type !== 'PassStateExited' && e.type !== 'ChoiceStateExited' && e.type !== 'WaitStateExited') continue;
    const details = e.stateExitedEventDetails;
    const output = parse(details?.output) as { job?: Job; summary?: { launches?: AttemptRecord[] } } | undefined;
    if (details?.name) exits.push({ state: details.name, at: time(e.timestamp), output });
    const recorded = details?.name === 'FinishPhase' ? output?.summary?.launches : details?.name === 'HandleFailure' ? output?.job?.history : undefined;
    for (const r of recorded ?? []) records.set(r.attempt, r);
    if (output?.job?.attempt !== undefined) {
      job = output.job;
      const { command, instance, attempt } = output.job;
      if (command?.id && instance?.id && !commands.some((c) => c.commandId === command.id && c.instanceId === instance.id)) commands.push({ attempt, commandId: command.id, instanceId: instance.id });
    }
  }
  const shard = input?.phase?.shard?.name;
  const launches: Launch[] = [...records.values()]
    .sort((a, b) => a.attempt - b.attempt)
    .map((r) => ({
      attempt: r.attempt,
      pool: r.pool,
      outcome: r.outcome,
      market: r.market ?? 'spot',
      ...(r.costUsd === undefined ? {} : { costUsd: r.costUsd }),
      instanceId: r.instanceId,
      ...(r.reasonCode ? { reasonCode: r.reasonCode } : {}),
      ...(r.detail ? { detail: r.detail } : {}),
      execution: name,
      ...(shard === undefined ? {} : { shard }),
    }));
  // The attempt under way when the execution ended (or still under way), not recorded yet.
  if (job?.attempt !== undefined && !records.has(job.attempt) && job.instance?.id && end?.status !== 'SUCCEEDED') {
    const outcome = !end ? 'running' : end.status === 'ABORTED' ? 'aborted' : end.status === 'TIMED_OUT' ? 'timed-out' : 'failed';
    const instance = job.instance;
    launches.push({
      attempt: job.attempt,
      pool: instance.instanceType && instance.availabilityZone ? `${instance.instanceType}/${instance.availabilityZone}` : null,
      outcome,
      market: instance.market === 'on-demand' ? 'on-demand' : 'spot',
      instanceId: instance.id ?? null,
      execution: name,
      ...(shard === undefined ? {} : { shard }),
    });
  }
  return {
    executionArn,
    name,
    phase: input?.phase?.name ?? '?',
    ...(shard === undefined ? {} : { shard }),
    status: end?.status ?? 'RUNNING',
    startedAt: time(started?.timestamp ?? events[0]?.timestamp),
    ...(end ? { stoppedAt: end.at } : {}),
    ...(input?.phase?.budgetSeconds === undefined ? {} : { budgetSeconds: input.phase.budgetSeconds }),
    ...(end?.error === undefined ? {} : { error: end.error }),
    ...(end?.cause === undefined ? {} : { cause: end.cause }),
    launches,
    commands,
    exits,
  };
}

const isInterruption = (l: Launch) => l.outcome === 'interrupted' || l.outcome === 'capacity-exhausted';
const isWaste = (l: Launch) => l.outcome !== 'succeeded' && l.outcome !== 'preflight-ok';
const secondsOf = (e: PhaseExecution, now: number) => Math.round(((e.stoppedAt ?? now) - e.startedAt) / 1000);
const sumCost = (launches: readonly Launch[]) => round6(launches.reduce((s, l) => s + (l.costUsd ?? 0), 0));

/** Did the pipeline's history enter this state (in any run)? */
const entered = (events: readonly HistoryEvent[], state: string) => events.some((e) => e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name === state);

/** Was the execution inside this state (entered, not exited) when it stopped? */
function enteredNotExited(events: readonly HistoryEvent[], state: string): boolean {
  const at = events.findLastIndex((e) => e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name === state);
  return at >= 0 && !events.slice(at).some((e) => e.type?.endsWith('StateExited') && e.stateExitedEventDetails?.name === state);
}

function phasePicture(name: string, runs: PhaseExecution[], pipeline: { status: string; error?: string; cause?: string; events: readonly HistoryEvent[] }, now: number, budget?: number, declaredShards?: readonly string[]): PhasePicture {
  const launches = runs.flatMap((r) => r.launches);
  const last = runs.at(-1);
  const sharded = runs.some((r) => r.shard !== undefined) || (runs.length > 0 && declaredShards !== undefined);
  const common = {
    name,
    attempts: launches.length,
    interruptions: launches.filter(isInterruption).length,
    budgetSeconds: last?.budgetSeconds ?? budget,
    costUsd: sumCost(launches),
    wastedUsd: sumCost(launches.filter(isWaste)),
    unpriced: launches.filter((l) => l.costUsd === undefined && l.instanceId !== null).length,
    launches,
    executions: runs,
  };
  if (!sharded) {
    // A build stage fails in its own states too (looking its version up, recording what it built),
    // and skips its build when the artifact is there already.
    const build = buildStateNames(name);
    const stageFailed = pipeline.status !== 'RUNNING' && pipeline.status !== 'SUCCEEDED' && (enteredNotExited(pipeline.events, build.check) || enteredNotExited(pipeline.events, build.record));
    if (stageFailed) return { ...common, status: 'FAILED', seconds: runs.reduce((s, r) => s + secondsOf(r, now), 0), error: pipeline.error ?? pipeline.status, ...(pipeline.cause === undefined ? {} : { cause: pipeline.cause }) };
    const status: PhaseStatus = !last
      ? entered(pipeline.events, build.skip)
        ? 'SKIPPED'
        : 'NOT_RUN'
      : last.status === 'SUCCEEDED'
        ? 'SUCCEEDED'
        : last.status === 'RUNNING'
          ? 'RUNNING'
          : 'FAILED';
    return {
      ...common,
      status,
      seconds: runs.reduce((s, r) => s + secondsOf(r, now), 0),
      ...(status === 'FAILED' ? { error: last!.error ?? last!.status, ...(last!.cause === undefined ? {} : { cause: last!.cause }) } : {}),
    };
  }
  // A sharded phase got past its shards once the pipeline entered its ShardsDone state.
  // Every shard the config declares (those that never started, NOT_RUN), then any other that ran.
  const shardNames = [...new Set([...(declaredShards ?? []), ...runs.map((r) => r.shard!)])];
  const shards: ShardPicture[] = shardNames.map((shard) => {
    const own = runs.filter((r) => r.shard === shard);
    const latest = own.at(-1);
    if (!latest) return { name: shard, status: 'NOT_RUN', attempts: 0, interruptions: 0, seconds: 0, launches: [] };
    const shardLaunches = own.flatMap((r) => r.launches);
    return {
      name: shard,
      status: latest.status,
      attempts: shardLaunches.length,
      interruptions: shardLaunches.filter(isInterruption).length,
      seconds: own.reduce((s, r) => s + secondsOf(r, now), 0),
      ...(latest.status === 'SUCCEEDED' ? {} : { error: latest.error ?? latest.status }),
      launches: shardLaunches,
    };
  });
  const done = entered(pipeline.events, shardStateNames(name).done);
  const running = runs.some((r) => r.status === 'RUNNING') || (!done && pipeline.status === 'RUNNING');
  const status: PhaseStatus = done ? 'SUCCEEDED' : running ? 'RUNNING' : 'FAILED';
  const failed = shards.filter((s) => s.status !== 'SUCCEEDED' && s.status !== 'RUNNING' && s.status !== 'NOT_RUN');
  const start = Math.min(...runs.map((r) => r.startedAt));
  const stop = Math.max(...runs.map((r) => r.stoppedAt ?? now));
  return {
    ...common,
    status,
    seconds: Math.round((stop - start) / 1000),
    ...(status === 'FAILED' ? { error: failed[0]?.error ?? 'FAILED', cause: failed.map((s) => `${s.name}: ${s.error}`).join('; ') } : {}),
    shards,
  };
}

export interface PipelineExecutionFacts {
  readonly executionArn: string;
  readonly status: string;
  readonly startDate?: Date;
  readonly stopDate?: Date;
  readonly redriveCount?: number;
  readonly input?: string;
  readonly error?: string;
  readonly cause?: string;
}

/**
 * The picture of a pipeline execution: each phase (in `phaseOrder`, then any other the history
 * names), with its attempts, interruptions, pools and cost, and the run's totals.
 */
export function runPicture(
  execution: PipelineExecutionFacts,
  pipelineEvents: readonly HistoryEvent[],
  children: readonly PhaseExecution[],
  options: {
    phaseOrder?: readonly string[];
    budgets?: ReadonlyMap<string, number>;
    /** The shards each sharded phase declares (from the config): the ones that never started show NOT_RUN. */
    shards?: ReadonlyMap<string, readonly string[]>;
    /** The build stages (from the config), for the timeline's lines of what each decided. */
    buildStages?: readonly { readonly name: string; readonly artifact: string; readonly check: string; readonly record: string }[];
    now?: number;
  } = {},
): RunPicture {
  const now = options.now ?? Date.now();
  const names = [...(options.phaseOrder ?? [])];
  for (const c of children) if (!names.includes(c.phase)) names.push(c.phase);
  const pipeline = { status: execution.status, error: execution.error, cause: execution.cause, events: pipelineEvents };
  const phases = names.map((name) => phasePicture(name, children.filter((c) => c.phase === name), pipeline, now, options.budgets?.get(name), options.shards?.get(name)));
  const startedAt = time(execution.startDate ?? pipelineEvents[0]?.timestamp);
  const stoppedAt = execution.stopDate ? time(execution.stopDate) : undefined;
  const input = parse(execution.input);
  const mode = (input as { mode?: string } | undefined)?.mode === 'preflight' ? 'preflight' : 'full';
  // The run's own lines: its start, each redrive (ExecutionRedriven) and how each run ended; at the
  // same moment a run's start comes before its phases' lines and its end after them (as the simulator tells it).
  const starts: TimelineLine[] = [{ at: startedAt, text: `pipeline started with input ${JSON.stringify(input)}` }];
  const ends: TimelineLine[] = [];
  for (const e of pipelineEvents) {
    if (e.type === 'ExecutionRedriven') starts.push({ at: time(e.timestamp), text: `pipeline redriven (redrive ${starts.length})` });
    const end = endOf([e]);
    if (end) ends.push({ at: end.at, text: `pipeline ${end.status}${end.error ? `: ${end.error}` : ''}` });
  }
  const pipelineExits: StateExit[] = pipelineEvents.flatMap((e) => (e.type?.endsWith('StateExited') && e.stateExitedEventDetails?.name ? [{ state: e.stateExitedEventDetails.name, at: time(e.timestamp), output: parse(e.stateExitedEventDetails.output) }] : []));
  const timeline = [
    ...starts,
    ...buildTimeline(options.buildStages ?? [], pipelineExits),
    ...byStart(children).flatMap((c) => phaseTimeline({ label: `${c.phase}${c.shard === undefined ? '' : `[${c.shard}]`}`, name: c.name, startedAt: c.startedAt, stoppedAt: c.stoppedAt, status: c.status, error: c.error }, c.exits, mode)),
    ...ends,
  ].sort((a, b) => a.at - b.at);
  return {
    executionArn: execution.executionArn,
    name: execution.executionArn.split(':').at(-1) ?? execution.executionArn,
    status: execution.status,
    startedAt,
    ...(stoppedAt === undefined ? {} : { stoppedAt }),
    redriveCount: execution.redriveCount ?? 0,
    input,
    ...(execution.error === undefined ? {} : { error: execution.error }),
    ...(execution.cause === undefined ? {} : { cause: execution.cause }),
    phases,
    costUsd: round6(phases.reduce((s, p) => s + p.costUsd, 0)),
    wastedUsd: round6(phases.reduce((s, p) => s + p.wastedUsd, 0)),
    interruptions: phases.reduce((n, p) => n + p.interruptions, 0),
    timeline,
  };
}
