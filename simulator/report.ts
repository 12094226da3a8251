/**
 * The JSON report of the simulator contract, computed from what happened: the executions'
 * results and event logs, and the simulated cloud's records. Nothing is restated from the
 * scenario.
 */
import { allPhases } from '../contract/config';
import type { Simulation } from './run';
import { phaseOf, type SimEvent, type SimExecution } from './step-functions';

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
}

export interface PhaseReport {
  name: string;
  status: 'SUCCEEDED' | 'FAILED' | 'NOT_RUN';
  attempts: number;
  launches: LaunchReport[];
  interruptions: number;
  seconds: number;
  budgetSeconds: number;
  /** Extension: the phase execution's error and cause when it failed. */
  error: string | null;
  cause: string | null;
  /** Extension: relaunches the pipeline decided (each must have put one metric datum). */
  relaunches: number;
}

export interface SimulationReport {
  scenario: string;
  status: string;
  error: string | null;
  cause: string | null;
  simulatedSeconds: number;
  phases: PhaseReport[];
  metrics: { namespace: string; name: string; value: number; dimensions: Record<string, string> }[];
  instances: { launched: number; runningAtEnd: number };
  workloadsRun: number;
  transitions: number;
}

const seconds = (ms: number) => Math.round(ms / 1000);

type JobOutput = { job?: { instance?: { id?: string }; history?: { outcome: string; reasonCode?: string; detail?: string }[]; verdict?: { action?: string }; status?: string } };

function exitsOf(events: SimEvent[], state: string): SimEvent[] {
  return events.filter((e) => e.type === 'StateExited' && e.state?.name === state);
}

/** The launches of one phase execution, attempt by attempt. */
function launchesOf(sim: Simulation, execution: SimExecution, t0: number): LaunchReport[] {
  const launches: LaunchReport[] = [];
  for (const event of execution.events) {
    if (event.type !== 'StateExited' || !event.state) continue;
    const output = event.state.output as JobOutput & { launches?: { outcome: string }[] };
    if (event.state.name === 'LaunchInstance') {
      const instanceId = output.job?.instance?.id ?? null;
      const instance = instanceId ? sim.cloud.instances.find((i) => i.id === instanceId) : undefined;
      const entered = execution.events.findLast((e) => e.type === 'StateEntered' && e.state?.name === 'LaunchInstance' && e.timestamp <= event.timestamp);
      launches.push({
        pool: instance ? sim.cloud.poolOf(instance) : null,
        outcome: 'running',
        start: seconds((instance?.launchedAt ?? entered?.timestamp ?? event.timestamp) - t0),
        end: seconds((instance?.terminatedAt ?? event.timestamp) - t0),
        instanceId,
        execution: execution.name,
      });
    } else if (event.state.name === 'HandleFailure' && launches.length > 0) {
      const record = output.job?.history?.at(-1);
      const current = launches.at(-1)!;
      current.outcome = record?.outcome ?? 'failed';
      current.reason = record?.reasonCode;
      current.detail = record?.detail;
    } else if (event.state.name === 'FinishPhase' && launches.length > 0) {
      const summary = (event.state.output as { summary?: { outcome?: string } }).summary;
      launches.at(-1)!.outcome = summary?.outcome ?? 'succeeded';
    }
  }
  for (const launch of launches) {
    const instance = launch.instanceId ? sim.cloud.instances.find((i) => i.id === launch.instanceId) : undefined;
    if (instance?.terminatedAt !== undefined) launch.end = seconds(instance.terminatedAt - t0);
    if (launch.outcome === 'running') {
      launch.outcome = execution.status === 'ABORTED' ? 'aborted' : execution.status === 'TIMED_OUT' ? 'timed-out' : 'failed';
      if (!instance) launch.end = seconds((execution.stoppedAt ?? sim.endedAt) - t0);
    }
  }
  return launches;
}

export function buildReport(sim: Simulation): SimulationReport {
  const t0 = sim.pipelineRuns[0]!.startedAt;
  const children = sim.stepFunctions.executions.filter((e) => e.parentArn === sim.pipeline.arn);
  const phases: PhaseReport[] = allPhases(sim.config).map((phase) => {
    const runs = children.filter((c) => phaseOf(c) === phase.name);
    const last = runs.at(-1);
    const launches = runs.flatMap((run) => launchesOf(sim, run, t0));
    const relaunches = runs.reduce((n, run) => n + exitsOf(run.events, 'HandleFailure').filter((e) => (e.state?.output as JobOutput).job?.verdict?.action === 'relaunch').length, 0);
    return {
      name: phase.name,
      status: !last ? 'NOT_RUN' : last.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
      attempts: launches.length,
      launches: launches.map(({ pool, outcome, start, end, instanceId, reason, detail, execution }) => ({ pool, outcome, start, end, instanceId, execution, ...(reason ? { reason } : {}), ...(detail ? { detail } : {}) })),
      interruptions: launches.filter((l) => l.outcome === 'interrupted' || l.outcome === 'capacity-exhausted').length,
      seconds: runs.reduce((sum, run) => sum + seconds((run.stoppedAt ?? sim.endedAt) - run.startedAt), 0),
      budgetSeconds: phase.budgetSeconds,
      error: last && last.status !== 'SUCCEEDED' ? (last.error ?? last.status) : null,
      cause: last && last.status !== 'SUCCEEDED' ? (last.cause ?? null) : null,
      relaunches,
    };
  });
  return {
    scenario: sim.scenario.name ?? 'unnamed scenario',
    status: sim.pipeline.status,
    error: sim.pipeline.status === 'SUCCEEDED' ? null : (sim.pipeline.error ?? sim.pipeline.status),
    cause: sim.pipeline.status === 'SUCCEEDED' ? null : (sim.pipeline.cause ?? null),
    simulatedSeconds: seconds((sim.pipeline.stoppedAt ?? sim.endedAt) - t0),
    phases,
    metrics: sim.cloud.metrics.map(({ namespace, name, value, dimensions }) => ({ namespace, name, value, dimensions })),
    instances: { launched: sim.cloud.instances.length, runningAtEnd: sim.cloud.runningInstances(sim.endedAt).length },
    workloadsRun: sim.cloud.invocations.filter((i) => i.mode === 'full').length,
    transitions: sim.stepFunctions.transitions(),
  };
}
