/**
 * The JSON report of the simulator contract, computed from what happened: the executions'
 * results and event logs, and the simulated cloud's records. Nothing is restated from the
 * scenario.
 */
import { SHA256_METADATA } from '../contract/artifacts';
import { allPhases, buildStages, buildStateNames, gateStages, shardNames, shardStateNames, type PhaseConfig } from '../contract/config';
import { STORAGE_PREFIXES } from '../contract/storage';
import type { Simulation } from './run';
import { EVENTS_PER_STATE, EVENTS_PER_TASK_RETRY, EXECUTION_EVENTS, type StateType } from '../contract/history';
import { TAG } from '../contract/tags';
import type { SimInstance } from './services/account';
import { invocationStatus } from './services/ssm';
import { builtArtifact, checkpointSaves, progressAt, stoppedOnNoticeAt, uploadedOutputs, watcherStopAt, workLostMs } from './instance-runner';
import { phaseOf, shardOf, type SimExecution } from './step-functions';
import { costBetween } from '../decisions/cost';
import { priceOf } from './prices';

/** What the workload did on an instance, as the simulated cloud recorded it (never the pipeline's label). */
export type WorkloadFact =
  /** No workload command reached the instance. */
  | 'none'
  /** Still running when the run ended. */
  | 'running'
  | 'succeeded'
  /** Exited non-zero by itself on a live instance (137 included: killed, e.g. out of memory). */
  | 'exited'
  /** Hung (printed nothing more) and was stopped by the pipeline before any spot notice. */
  | 'hung'
  /** Reached its executionTimeout. */
  | 'timed-out'
  /** Cancelled while it still worked (not hung). */
  | 'cancelled'
  /** Its instance went away under it (spot, or the pipeline terminating it). */
  | 'cut-off'
  /** The runner refused before the workload (a download that did not verify, a secret it could not read): nothing ran. */
  | 'not-run';

export interface LaunchReport {
  pool: string | null;
  outcome: string;
  start: number;
  end: number;
  instanceId: string | null;
  /** Extension: the attempt's reason code (the metric's Reason for an interruption) and what was seen. */
  reason?: string;
  detail?: string;
  /** Extension: the phase execution the launch belongs to (a redrive starts a new one). */
  execution: string;
  /** Extension: the attempt number the launch was tagged with. */
  attempt: number;
  /** Extension: the shard the launch ran, in a sharded phase. */
  shard?: string;
  /** v2: the market the instance ran in (what RunInstances or CreateFleet asked for; spot for a launch no pool accepted). */
  market: 'spot' | 'on-demand';
  /** v2: what the instance cost, its lifetime at its pool's price (simulator/prices.ts); 0 without an instance, null when unpriced. */
  costUsd: number | null;
  /** v2: virtual seconds when the interruption notice reached this instance; null if none. */
  noticeAt: number | null;
  /** v2: workload seconds the attempt's checkpoint restored (0: it started fresh); null when no workload ran. */
  resumedFromSeconds: number | null;
  /** Extension: the simulated cloud's own record of the launch. */
  cloud: {
    workload: WorkloadFact;
    /** spot | pipeline (a phase task) | safety-net (execution cleanup, orphan reaper) | null (still alive). */
    terminatedBy: 'spot' | 'pipeline' | 'safety-net' | null;
    /** The capacity errors the launch met, "pool: code". */
    refusals: string[];
    /** Workload (or preflight) commands SSM started on the instance. */
    workloadsStarted: number;
    /**
     * When the runner stopped a checkpointing workload on the spot notice: the progress (workload
     * seconds) it had, and whether its save reached S3 (false: the instance or the command was taken
     * away before it could). null: no notice reached a running, checkpointing workload here.
     */
    noticeSave: { progressSeconds: number; saved: boolean } | null;
  };
}

export interface PhaseReport {
  name: string;
  /** v2: what its launches cost (priced ones), USD. */
  costUsd: number;
  /** v2: the stage kind (a build stage reports the phase it ran). */
  kind: 'phase' | 'build';
  /** SKIPPED: a build stage whose artifact version was already in the bucket (nothing launched). */
  status: 'SUCCEEDED' | 'FAILED' | 'NOT_RUN' | 'SKIPPED';
  attempts: number;
  launches: LaunchReport[];
  interruptions: number;
  seconds: number;
  budgetSeconds: number;
  /** Extension: the phase execution's error and cause when it failed. */
  error: string | null;
  cause: string | null;
  /** v2: workload seconds of interrupted attempts that no checkpoint saved. */
  workLostSeconds: number;
  /** Extension: relaunches that happened, by the cloud's record (launch attempts after the first, per phase execution). */
  relaunches: number;
  /** Extension: each phase execution's start (virtual seconds from the pipeline's) and duration in seconds (a redrive runs the phase in a new one). */
  runs: { execution: string; start: number; seconds: number; status: string; error: string | null; stoppedWhileLaunching: boolean }[];
  /** v2: a sharded phase's shards, in the config's order (absent for a phase without shards). */
  shards?: ShardReport[];
}

/** One shard of a sharded phase, from its own SpotPhase executions (a redrive runs a failed shard in a new one). */
export interface ShardReport {
  name: string;
  /** NOT_RUN: no execution of the shard started (a preflight runs the first shard only). */
  status: 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT' | 'RUNNING' | 'NOT_RUN';
  attempts: number;
  /** Instances launched for the shard. */
  launches: number;
  interruptions: number;
  /** Seconds its executions ran, summed. */
  seconds: number;
  budgetSeconds: number;
  error: string | null;
  /** Extension: the shard's executions, in order (more than one after a redrive re-ran it). */
  executions: string[];
}

export interface SimulationReport {
  scenario: string;
  /** v2: every instance-second of the run priced by its pool and market, USD (unpriced launches left out). */
  costUsd: number;
  /** v2: the part of it spent on attempts that did not succeed. */
  wastedUsd: number;
  /** Extension: the run's mode (a preflight runs each phase's preflight command, and a sharded phase's first shard only). */
  mode: 'full' | 'preflight';
  status: string;
  error: string | null;
  cause: string | null;
  simulatedSeconds: number;
  phases: PhaseReport[];
  metrics: { namespace: string; name: string; value: number; dimensions: Record<string, string> }[];
  instances: {
    launched: number;
    runningAtEnd: number;
    /** Extension: virtual seconds (since the start) when the last pipeline instance was gone; null while one is left. */
    lastGoneAt: number | null;
  };
  workloadsRun: number;
  transitions: number;
  /** v2: the largest event count of any one execution (Step Functions allows 25,000). */
  maxHistoryEvents: number;
  /** v2: every simulated API call, by "Service.Operation" (throttled tries included). */
  apiCalls: Record<string, number>;
  /** Extension: the calls among them the scenario had throttled, by "Service.Operation". */
  throttledCalls: Record<string, number>;
  /** v2: each promotion gate's decision and reasons, read from the decision record it wrote to S3. */
  gates: { name: string; decision: 'promoted' | 'kept'; reasons: string[]; dryRun: boolean; copied: number }[];
  /** v2: the artifacts the run built or found (build stages). */
  artifacts: { name: string; version: string; sha256: string; built: boolean }[];
  /** Extension: the objects the runners uploaded to the pipeline bucket's run outputs ("bucket/key"), when and from which instance. */
  outputs: { key: string; at: number; writtenBy: string }[];
}

const seconds = (ms: number) => Math.round(ms / 1000);

type HistoryRecord = { attempt: number; outcome: string; reasonCode?: string; detail?: string };
type StateOutput = { job?: { history?: HistoryRecord[] }; summary?: { launches?: HistoryRecord[] } };

/** The attempt records the pipeline wrote in one phase execution, by attempt (its labels, for people). */
function labelsOf(execution: SimExecution): Map<number, HistoryRecord> {
  const labels = new Map<number, HistoryRecord>();
  for (const event of execution.events) {
    if (event.type !== 'StateExited' || !event.state) continue;
    const output = event.state.output as StateOutput | undefined;
    const records = event.state.name === 'HandleFailure' ? output?.job?.history : event.state.name === 'FinishPhase' ? output?.summary?.launches : undefined;
    for (const r of records ?? []) labels.set(r.attempt, r);
  }
  return labels;
}

/** What the workload did on an instance, from the simulated SSM's invocations. */
function workloadFact(sim: Simulation, instance: SimInstance, end: number): WorkloadFact {
  const inv = sim.cloud.invocations.findLast((i) => i.instanceId === instance.id);
  if (!inv) return 'none';
  if (inv.runner?.failure) return 'not-run';
  const { status, endedAt } = invocationStatus(sim.cloud, inv, end);
  if (endedAt === undefined) return 'running';
  if (status === 'Success') return 'succeeded';
  // It exited by itself only if the runner had not stopped it on a spot notice before its end.
  const stoppedAt = stoppedOnNoticeAt(sim.cloud, inv);
  const finishAt = inv.startedAt + inv.durationMs;
  if (endedAt === finishAt && !inv.hang && (stoppedAt === undefined || stoppedAt >= finishAt)) return 'exited';
  const noticeBefore = instance.noticeAt !== undefined && instance.noticeAt <= endedAt;
  if (inv.hang && !noticeBefore && (endedAt === inv.cancelledAt || instance.terminatedBy === 'pipeline')) return 'hung';
  if (endedAt === inv.startedAt + inv.executionTimeoutMs) return 'timed-out';
  if (endedAt === inv.cancelledAt) return 'cancelled';
  return 'cut-off';
}

const SAFETY_NET = new Set(['execution-cleanup', 'reap-orphans']);

/** The workload commands that ran on an instance (a runner that refused ran none). */
const workloadsOn = (sim: Simulation, instance: SimInstance) => sim.cloud.invocations.filter((i) => i.instanceId === instance.id && !i.runner?.failure);

/** What the runner saved on the notice on this instance (see LaunchReport.cloud.noticeSave). */
function noticeSaveOf(sim: Simulation, instance: SimInstance, end: number): LaunchReport['cloud']['noticeSave'] {
  const inv = workloadsOn(sim, instance).find((i) => i.mode === 'full' && i.runner?.checkpointEveryMs !== undefined);
  const stop = inv ? watcherStopAt(instance, inv) : undefined;
  if (!inv || stop === undefined) return null;
  if (instance.terminatedBy === 'spot' && instance.terminatedAt !== undefined && instance.terminatedAt <= stop) return null; // spot was quicker than the watcher
  const saved = checkpointSaves(sim.cloud, inv, end).some((save) => save.at === stop);
  return { progressSeconds: seconds(progressAt(sim.cloud, inv, stop)), saved };
}

/** Workload seconds the instance's workload resumed from; null when no workload ran there. */
function resumedFrom(sim: Simulation, instance: SimInstance | undefined): number | null {
  const inv = instance ? workloadsOn(sim, instance).find((i) => i.mode === 'full') : undefined;
  return inv ? seconds(inv.runner?.resumedFromMs ?? 0) : null;
}

/**
 * Workload seconds of a phase's interrupted attempts that no checkpoint saved: the instances spot
 * gave the interruption notice to (whoever terminated them first: the pipeline acts on the notice).
 */
function workLost(sim: Simulation, executions: SimExecution[], end: number): number {
  const arns = new Set(executions.map((e) => e.arn));
  const taken = sim.cloud.instances.filter((i) => arns.has(i.tags[TAG.execution] ?? '') && i.noticeAt !== undefined && i.noticeAt <= (i.terminatedAt ?? end));
  const lost = taken.flatMap((i) => workloadsOn(sim, i).filter((inv) => inv.mode === 'full')).reduce((sum, inv) => sum + workLostMs(sim.cloud, inv, end), 0);
  return seconds(lost);
}

/**
 * The artifacts of the run's build stages, from the simulated S3: those a build uploaded during the
 * run (built), and those the pipeline found already there (not built).
 */
function artifactsOf(sim: Simulation, end: number): SimulationReport['artifacts'] {
  const names = new Set(buildStages(sim.config).map((b) => b.artifact));
  const built = sim.cloud.invocations.flatMap((inv) => {
    const build = inv.runner?.build;
    const object = build ? builtArtifact(sim.cloud, build.uri, end) : undefined;
    return build && object && object.writtenBy === inv.instanceId ? [{ name: build.artifact, version: build.version, sha256: object.metadata?.[SHA256_METADATA] ?? object.sha256, built: true }] : [];
  });
  const found = [...sim.cloud.objects]
    .filter(([, o]) => o.writtenBy === 'before the run')
    .flatMap(([key, o]) => {
      const match = /\/artifacts\/([^/]+)\/([^/]+)$/.exec(key);
      return match && names.has(match[1]!) ? [{ name: match[1]!, version: match[2]!, sha256: o.metadata?.[SHA256_METADATA] ?? o.sha256, built: false }] : [];
    });
  return [...found, ...built];
}

/** Each gate's decision, as its record in the simulated S3 says (the promotions/ objects the gate's Lambda wrote). */
function gatesOf(sim: Simulation): SimulationReport['gates'] {
  return gateStages(sim.config).flatMap((gate) => {
    const found = [...sim.cloud.objects].filter(([key, o]) => key.includes(`/${STORAGE_PREFIXES.promotions}`) && key.endsWith(`/${gate.name}.json`) && o.writtenBy === 'promotion-gate');
    return found.flatMap(([, o]) => {
      const body = JSON.parse(o.body ?? '{}') as { decision?: 'promoted' | 'kept'; reasons?: string[]; dryRun?: boolean; copied?: string[] };
      return body.decision ? [{ name: gate.name, decision: body.decision, reasons: body.reasons ?? [], dryRun: body.dryRun === true, copied: body.copied?.length ?? 0 }] : [];
    });
  });
}

/** The objects the runners uploaded under the runs/ prefix, as the simulated S3 would list them. */
function uploadedObjects(sim: Simulation, t0: number, end: number): SimulationReport['outputs'] {
  return sim.cloud.invocations
    .flatMap((inv) => uploadedOutputs(sim.cloud, inv, invocationStatus(sim.cloud, inv, end), end).map((o) => ({ key: o.key, at: seconds(o.at - t0), writtenBy: inv.instanceId })))
    .sort((a, b) => a.at - b.at || a.key.localeCompare(b.key));
}

/** What an instance cost from its launch to its end (or the run's), at its pool's price; null when unpriced. */
function instanceCostUsd(sim: Simulation, instance: SimInstance, end: number): number | null {
  const price = priceOf(sim.cloud.scenario, sim.cloud.poolOf(instance), instance.market);
  return price === undefined ? null : (costBetween([{ fromMs: instance.launchedAt, usdPerHour: price }], instance.launchedAt, instance.terminatedAt ?? end) ?? null);
}

const sumUsd = (values: readonly (number | null)[]) => Math.round(values.reduce<number>((sum, v) => sum + (v ?? 0), 0) * 1e6) / 1e6;

/** The launches of one phase execution, attempt by attempt, from what the simulated EC2 recorded. */
function launchesOf(sim: Simulation, execution: SimExecution, t0: number, end: number): LaunchReport[] {
  const instances = sim.cloud.instances.filter((i) => i.tags[TAG.execution] === execution.arn);
  const refusals = sim.cloud.refusals.filter((r) => r.execution === execution.arn);
  const attempts = [...new Set([...instances.map((i) => i.attempt), ...refusals.map((r) => r.attempt)])].sort((a, b) => a - b);
  const labels = labelsOf(execution);
  return attempts.map((attempt) => {
    const instance = instances.find((i) => i.attempt === attempt);
    const refused = refusals.filter((r) => r.attempt === attempt);
    const label = labels.get(attempt);
    const outcome = label?.outcome ?? (execution.status === 'ABORTED' ? 'aborted' : execution.status === 'TIMED_OUT' ? 'timed-out' : 'failed');
    const startMs = Math.min(instance?.launchedAt ?? Infinity, ...refused.map((r) => r.at));
    const endMs = instance ? (instance.terminatedAt ?? end) : Math.max(...refused.map((r) => r.at));
    const terminatedBy = !instance || instance.terminatedAt === undefined ? null : instance.terminatedBy === 'spot' ? 'spot' : SAFETY_NET.has(instance.terminatedByHandler ?? '') ? 'safety-net' : 'pipeline';
    return {
      pool: instance ? sim.cloud.poolOf(instance) : null,
      outcome,
      start: seconds(startMs - t0),
      end: seconds(endMs - t0),
      instanceId: instance?.id ?? null,
      ...(label?.reasonCode ? { reason: label.reasonCode } : {}),
      ...(label?.detail ? { detail: label.detail } : {}),
      execution: execution.name,
      attempt,
      ...(shardOf(execution) === undefined ? {} : { shard: shardOf(execution) }),
      market: instance?.market ?? refused[0]?.market ?? ('spot' as const),
      costUsd: instance ? instanceCostUsd(sim, instance, end) : 0,
      noticeAt: instance?.noticeAt !== undefined && instance.noticeAt <= (instance.terminatedAt ?? end) ? seconds(instance.noticeAt - t0) : null,
      resumedFromSeconds: resumedFrom(sim, instance),
      cloud: {
        workload: instance ? workloadFact(sim, instance, end) : 'none',
        terminatedBy,
        refusals: refused.map((r) => `${r.pool}: ${r.code}`),
        workloadsStarted: instance ? workloadsOn(sim, instance).length : 0,
        noticeSave: instance ? noticeSaveOf(sim, instance, end) : null,
      },
    };
  });
}

/**
 * History events of one execution as Step Functions counts them against its 25,000 limit, with
 * the per-state counts the synth-time model uses (contract/history.ts): the execution's start and
 * end; each state passed through; each retry of a task; a Parallel or Map records its entered,
 * started, succeeded and exited events (Step Functions API reference, "HistoryEvent" types).
 */
export function historyEvents(execution: SimExecution): number {
  const PARALLEL_OR_MAP_EVENTS = 4;
  let count = EXECUTION_EVENTS;
  for (const e of execution.events) {
    if (e.type === 'StateEntered') count += Object.hasOwn(EVENTS_PER_STATE, e.state?.type ?? '') ? EVENTS_PER_STATE[e.state!.type as StateType] : PARALLEL_OR_MAP_EVENTS;
    else if (e.type === 'StateRetried') count += EVENTS_PER_TASK_RETRY;
  }
  return count;
}

/** Each shard of a sharded phase, from its executions and what the simulated EC2 recorded of them. */
function shardsOf(phase: PhaseConfig, runs: readonly SimExecution[], perRun: readonly LaunchReport[][], endedAt: number): ShardReport[] {
  return shardNames(phase)!.map((name) => {
    const own = runs.map((run, i) => ({ run, launches: perRun[i]! })).filter(({ run }) => shardOf(run) === name);
    const last = own.at(-1)?.run;
    const launches = own.flatMap((o) => o.launches);
    return {
      name,
      status: last ? last.status : 'NOT_RUN',
      attempts: launches.length,
      launches: launches.filter((l) => l.instanceId !== null).length,
      interruptions: launches.filter((l) => l.outcome === 'interrupted' || l.outcome === 'capacity-exhausted').length,
      seconds: own.reduce((sum, { run }) => sum + seconds((run.stoppedAt ?? endedAt) - run.startedAt), 0),
      budgetSeconds: phase.budgetSeconds,
      error: last && last.status !== 'SUCCEEDED' ? (last.error ?? last.status) : null,
      executions: own.map(({ run }) => run.name),
    };
  });
}

export function buildReport(sim: Simulation): SimulationReport {
  const t0 = sim.pipelineRuns[0]!.startedAt;
  const end = sim.instancesGoneAt ?? sim.endedAt;
  const children = sim.stepFunctions.executions.filter((e) => e.parentArn === sim.pipeline.arn);
  const artifacts = artifactsOf(sim, end);
  const phases: PhaseReport[] = allPhases(sim.config).map((phase) => {
    const build = buildStages(sim.config).find((b) => b.name === phase.name);
    const runs = children.filter((c) => phaseOf(c) === phase.name);
    const last = runs.at(-1);
    const perRun = runs.map((run) => launchesOf(sim, run, t0, end));
    const launches = perRun.flat();
    // A build stage fails in its own states too: looking up its version, or recording what it built.
    const names = build ? buildStateNames(build.name) : undefined;
    const stageFailed = names !== undefined && sim.pipeline.status !== 'SUCCEEDED' && (enteredNotExited(sim.pipeline, names.check) || enteredNotExited(sim.pipeline, names.record));
    const ownError = stageFailed ? { error: sim.pipeline.error ?? sim.pipeline.status, cause: sim.pipeline.cause ?? null } : undefined;
    if (shardNames(phase)) return shardedPhaseReport(sim, phase, runs, perRun);
    return {
      name: phase.name,
      costUsd: sumUsd(launches.map((l) => l.costUsd)),
      kind: build ? ('build' as const) : ('phase' as const),
      status: ownError
        ? 'FAILED'
        : !last
          ? build && artifacts.some((a) => a.name === build.artifact && !a.built)
            ? 'SKIPPED'
            : 'NOT_RUN'
          : last.status === 'SUCCEEDED'
            ? 'SUCCEEDED'
            : 'FAILED',
      attempts: launches.length,
      launches,
      interruptions: launches.filter((l) => l.outcome === 'interrupted' || l.outcome === 'capacity-exhausted').length,
      seconds: runs.reduce((sum, run) => sum + seconds((run.stoppedAt ?? sim.endedAt) - run.startedAt), 0),
      budgetSeconds: phase.budgetSeconds,
      error: ownError ? ownError.error : last && last.status !== 'SUCCEEDED' ? (last.error ?? last.status) : null,
      cause: ownError ? ownError.cause : last && last.status !== 'SUCCEEDED' ? (last.cause ?? null) : null,
      workLostSeconds: workLost(sim, runs, end),
      relaunches: perRun.reduce((n, run) => n + Math.max(0, run.length - 1), 0),
      runs: runs.map((run) => runReport(sim, run)),
    };
  });
  const launches = phases.flatMap((p) => p.launches);
  return {
    costUsd: sumUsd(launches.map((l) => l.costUsd)),
    wastedUsd: sumUsd(launches.filter((l) => l.outcome !== 'succeeded' && l.outcome !== 'preflight-ok').map((l) => l.costUsd)),
    scenario: sim.scenario.name ?? 'unnamed scenario',
    mode: sim.scenario.mode === 'preflight' || (sim.scenario.input as { mode?: string } | undefined)?.mode === 'preflight' ? 'preflight' : 'full',
    status: sim.pipeline.status,
    error: sim.pipeline.status === 'SUCCEEDED' ? null : (sim.pipeline.error ?? sim.pipeline.status),
    cause: sim.pipeline.status === 'SUCCEEDED' ? null : (sim.pipeline.cause ?? null),
    simulatedSeconds: seconds((sim.pipeline.stoppedAt ?? sim.endedAt) - t0),
    phases,
    metrics: sim.cloud.metrics.map(({ namespace, name, value, dimensions }) => ({ namespace, name, value, dimensions })),
    instances: {
      launched: sim.cloud.instances.length,
      runningAtEnd: sim.cloud.runningInstances(end).length,
      lastGoneAt: sim.instancesGoneAt === undefined ? null : seconds(Math.max(t0, ...sim.cloud.instances.map((i) => i.terminatedAt ?? t0)) - t0),
    },
    workloadsRun: sim.cloud.invocations.filter((i) => i.mode === 'full' && !i.runner?.failure).length,
    transitions: sim.stepFunctions.transitions(),
    maxHistoryEvents: Math.max(0, ...sim.stepFunctions.executions.map(historyEvents)),
    apiCalls: Object.fromEntries([...sim.cloud.calls].sort(([a], [b]) => a.localeCompare(b))),
    throttledCalls: Object.fromEntries([...sim.cloud.throttledCalls].sort(([a], [b]) => a.localeCompare(b))),
    gates: gatesOf(sim),
    artifacts,
    outputs: uploadedObjects(sim, t0, end),
  };
}

/**
 * A sharded phase: SUCCEEDED once a run of the pipeline got past its shards (its ShardsDone state),
 * FAILED when the pipeline stopped inside them, NOT_RUN before; its seconds span its first shard's
 * start to its last shard's end, and its shards are reported one by one.
 */
function shardedPhaseReport(sim: Simulation, phase: PhaseConfig, runs: SimExecution[], perRun: LaunchReport[][]): PhaseReport {
  const end = sim.instancesGoneAt ?? sim.endedAt;
  const launches = perRun.flat();
  const names = shardStateNames(phase.name);
  const done = sim.pipelineRuns.some((run) => run.events.some((e) => e.type === 'StateEntered' && e.state?.name === names.done));
  const failedHere = !done && runs.length > 0 && sim.pipeline.status !== 'RUNNING' && sim.pipeline.status !== 'SUCCEEDED';
  const shards = shardsOf(phase, runs, perRun, sim.endedAt);
  const failedShards = shards.filter((sh) => sh.status !== 'SUCCEEDED' && sh.status !== 'NOT_RUN' && sh.status !== 'RUNNING');
  const pipelineSaysHere = failedHere && (sim.pipeline.cause ?? '').includes(`phase ${phase.name}:`);
  const start = Math.min(...runs.map((r) => r.startedAt));
  const stop = Math.max(...runs.map((r) => r.stoppedAt ?? sim.endedAt));
  return {
    name: phase.name,
    costUsd: sumUsd(launches.map((l) => l.costUsd)),
    kind: 'phase',
    status: runs.length === 0 ? 'NOT_RUN' : done ? 'SUCCEEDED' : failedHere ? 'FAILED' : 'NOT_RUN',
    attempts: launches.length,
    launches,
    interruptions: launches.filter((l) => l.outcome === 'interrupted' || l.outcome === 'capacity-exhausted').length,
    seconds: runs.length === 0 ? 0 : seconds(stop - start),
    budgetSeconds: phase.budgetSeconds,
    error: failedHere ? (pipelineSaysHere ? (sim.pipeline.error ?? null) : (failedShards[0]?.error ?? sim.pipeline.error ?? null)) : null,
    cause: failedHere ? (pipelineSaysHere ? (sim.pipeline.cause ?? null) : failedShards.map((sh) => `${sh.name}: ${sh.error}`).join('; ') || null) : null,
    workLostSeconds: workLost(sim, runs, end),
    relaunches: perRun.reduce((n, run) => n + Math.max(0, run.length - 1), 0),
    runs: runs.map((run) => runReport(sim, run)),
    shards,
  };
}

/** One phase execution as the report gives it. */
function runReport(sim: Simulation, run: SimExecution): PhaseReport['runs'][number] {
  return {
    execution: run.name,
    // Virtual seconds from the pipeline's start, like a launch's start.
    start: seconds(run.startedAt - sim.pipelineRuns[0]!.startedAt),
    seconds: seconds((run.stoppedAt ?? sim.endedAt) - run.startedAt),
    status: run.status,
    error: run.status === 'SUCCEEDED' ? null : (run.error ?? run.status),
    stoppedWhileLaunching: run.status !== 'SUCCEEDED' && enteredNotExited(run, 'LaunchInstance'),
  };
}

/** Was the execution inside this state (entered, not exited) when it stopped? */
function enteredNotExited(execution: SimExecution, state: string): boolean {
  const entered = execution.events.findLastIndex((e) => e.type === 'StateEntered' && e.state?.name === state);
  return entered >= 0 && !execution.events.slice(entered).some((e) => e.type === 'StateExited' && e.state?.name === state);
}
