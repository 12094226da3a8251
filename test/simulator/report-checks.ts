/**
 * Checks shared by the simulator tests: the JSON report shape of the simulator contract
 * (/work/shared/simulator-contract.md) and the properties every simulated run must have,
 * whatever its scenario. Each check answers a list of problems; an empty list means it holds.
 */
import { COUNT_RELAUNCH_RETRY } from '../../contract/budget';
import { METRICS } from '../../contract/metrics';
import { checkInvariants } from '../../simulator/invariants';
import type { LaunchReport, SimulationReport } from '../../simulator/report';

export const EXECUTION_STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];
export const PHASE_STATUSES = ['SUCCEEDED', 'FAILED', 'NOT_RUN', 'SKIPPED'];
export const LAUNCH_OUTCOMES = ['succeeded', 'failed', 'interrupted', 'capacity-exhausted', 'preflight-ok', 'timed-out', 'hung', 'aborted'];

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isStringOrNull = (v: unknown): boolean => v === null || typeof v === 'string';

/** Does `value` (a report as it crossed JSON) have every field of the contract, with the right types? */
export function reportShapeProblems(value: unknown): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  need(isObject(value), 'report: must be an object');
  if (!isObject(value)) return problems;
  const r = value;
  for (const key of ['scenario', 'status', 'error', 'cause', 'simulatedSeconds', 'phases', 'metrics', 'instances', 'workloadsRun', 'transitions']) {
    need(key in r, `report.${key}: missing`);
  }
  need(typeof r.scenario === 'string', 'report.scenario: must be a string');
  need(EXECUTION_STATUSES.includes(r.status as string), `report.status: ${String(r.status)} is not one of ${EXECUTION_STATUSES.join(', ')}`);
  need(isStringOrNull(r.error), 'report.error: must be a string or null');
  need(isStringOrNull(r.cause), 'report.cause: must be a string or null');
  need((r.status === 'SUCCEEDED') === (r.error === null), 'report.error: must be null exactly when the status is SUCCEEDED');
  need(isCount(r.simulatedSeconds), 'report.simulatedSeconds: must be a whole number >= 0');
  need(isCount(r.workloadsRun), 'report.workloadsRun: must be a whole number >= 0');
  need(isCount(r.transitions), 'report.transitions: must be a whole number >= 0');
  need(isObject(r.instances) && isCount(r.instances.launched) && isCount(r.instances.runningAtEnd), 'report.instances: must be { launched, runningAtEnd } counts');

  need(Array.isArray(r.phases), 'report.phases: must be a list');
  for (const [i, p] of (Array.isArray(r.phases) ? r.phases : []).entries()) {
    const at = `report.phases[${i}]`;
    if (!isObject(p)) {
      problems.push(`${at}: must be an object`);
      continue;
    }
    need(typeof p.name === 'string' && p.name.length > 0, `${at}.name: must be a non-empty string`);
    need(PHASE_STATUSES.includes(p.status as string), `${at}.status: ${String(p.status)} is not one of ${PHASE_STATUSES.join(', ')}`);
    need(isCount(p.attempts), `${at}.attempts: must be a whole number >= 0`);
    need(isCount(p.interruptions), `${at}.interruptions: must be a whole number >= 0`);
    need(isCount(p.seconds), `${at}.seconds: must be a whole number >= 0`);
    need(isCount(p.budgetSeconds), `${at}.budgetSeconds: must be a whole number >= 0`);
    need(Array.isArray(p.launches), `${at}.launches: must be a list`);
    const launches = Array.isArray(p.launches) ? p.launches : [];
    need(launches.length === p.attempts, `${at}: ${launches.length} launch(es) for ${String(p.attempts)} attempt(s)`);
    for (const [j, l] of launches.entries()) {
      const lat = `${at}.launches[${j}]`;
      if (!isObject(l)) {
        problems.push(`${lat}: must be an object`);
        continue;
      }
      need(l.pool === null || (typeof l.pool === 'string' && /^[a-z0-9][a-z0-9.-]*\/[a-z0-9-]+$/.test(l.pool)), `${lat}.pool: ${String(l.pool)} is neither null nor "type/zone"`);
      need(LAUNCH_OUTCOMES.includes(l.outcome as string), `${lat}.outcome: ${String(l.outcome)} is not one of ${LAUNCH_OUTCOMES.join(', ')}`);
      need(isCount(l.start), `${lat}.start: must be a whole number >= 0`);
      need(isCount(l.end), `${lat}.end: must be a whole number >= 0`);
    }
  }

  need(Array.isArray(r.metrics), 'report.metrics: must be a list');
  for (const [i, m] of (Array.isArray(r.metrics) ? r.metrics : []).entries()) {
    const ok =
      isObject(m) &&
      typeof m.namespace === 'string' &&
      typeof m.name === 'string' &&
      typeof m.value === 'number' &&
      isObject(m.dimensions) &&
      Object.values(m.dimensions).every((d) => typeof d === 'string');
    need(ok, `report.metrics[${i}]: must be { namespace, name, value, dimensions: { string: string } }`);
  }
  return problems;
}

/**
 * What must hold after every run: the simulator's own invariants, plus what the report itself
 * says about time, instances and metrics.
 */
export interface RunAllowances {
  /** The scenario throttles EC2: a task near its deadline may leave an instance to the safety net, which may then be the reaper. */
  readonly reaperMayAct?: boolean;
  /** The scenario throttles CloudWatch three times or more: CountExhausted (three quick tries, to keep the budget) may drop its datum. */
  readonly exhaustedDatumMayDrop?: boolean;
}

export function runProblems(report: SimulationReport, metricNamespace = 'AlphaEngine', allow: RunAllowances = {}): string[] {
  const problems = checkInvariants(report)
    .filter((i) => !i.holds)
    .map((i) => `invariant broken: ${i.name}${i.detail ? ` (${i.detail})` : ''}`);
  if (report.instances.runningAtEnd !== 0) problems.push(`${report.instances.runningAtEnd} instance(s) running at the end`);
  if (report.instances.launched > 0 && report.instances.lastGoneAt === null) problems.push('the report does not say when the last instance was gone');
  const launched = report.phases.reduce((n, p) => n + p.launches.filter((l) => l.pool !== null).length, 0);
  if (launched !== report.instances.launched) problems.push(`the phases name ${launched} launched instance(s), the cloud launched ${report.instances.launched}`);
  if (report.maxHistoryEvents <= 0 || report.maxHistoryEvents >= 25_000) problems.push(`maxHistoryEvents ${report.maxHistoryEvents} is not within (0, 25000)`);

  for (const p of report.phases) {
    p.launches.forEach((l, i) => {
      if (l.end < l.start) problems.push(`${p.name} launch ${i + 1}: ends at ${l.end} s, before its start at ${l.start} s`);
      // Shards run side by side: one instance at a time holds per shard.
      const previous = p.launches.slice(0, i).findLast((other) => other.shard === l.shard);
      // (A redrive may start the phase again while the ended run's instance is still being cleaned up.)
      const redriveOverlap = previous !== undefined && previous.execution !== l.execution && previous.cloud.terminatedBy === 'safety-net';
      // (A relaunch at once on spot's notice launches while the noticed instance saves its checkpoint:
      // never before the notice, and spot, or the next attempt past its save window, takes it within 180 s.)
      const noticeOverlap = previous?.noticeAt !== null && previous?.noticeAt !== undefined && l.start >= previous.noticeAt && previous.end <= previous.noticeAt + 180;
      if (previous && l.start < previous.end && !redriveOverlap && !noticeOverlap) {
        problems.push(`${p.name} launch ${i + 1} starts at ${l.start} s, before launch ${i} ended at ${previous.end} s (two instances at once)`);
      }
      // No instance: every pool refused, or the attempt met a launch error or an account quota.
      if (l.outcome === 'capacity-exhausted' ? l.pool !== null : l.pool === null && !['timed-out', 'failed', 'aborted'].includes(l.outcome)) {
        problems.push(`${p.name} launch ${i + 1}: pool ${String(l.pool)} with outcome ${l.outcome}`);
      }
    });
    const interrupted = p.launches.filter((l) => l.outcome === 'interrupted' || l.outcome === 'capacity-exhausted').length;
    if (interrupted !== p.interruptions) problems.push(`${p.name}: ${p.interruptions} interruption(s) reported, ${interrupted} launch(es) interrupted`);
    if ((p.status === 'NOT_RUN' || p.status === 'SKIPPED') && (p.attempts !== 0 || p.seconds !== 0)) problems.push(`${p.name}: ${p.status} with ${p.attempts} attempt(s), ${p.seconds} s`);
    if (p.status === 'SKIPPED' && (p.kind !== 'build' || !report.artifacts.some((a) => !a.built))) problems.push(`${p.name}: SKIPPED, but only a build whose artifact was already there may be`);
    if (p.status === 'SUCCEEDED' && p.shards) {
      // A sharded phase succeeds with its shards done, but for those it tolerates failing.
      for (const sh of p.shards.filter((x) => x.status === 'SUCCEEDED')) {
        const last = p.launches.filter((l) => l.shard === sh.name).at(-1);
        if (!last || !['succeeded', 'preflight-ok'].includes(last.outcome)) problems.push(`${p.name}[${sh.name}]: SUCCEEDED but its last launch ended ${last?.outcome ?? '(none)'}`);
      }
      if (p.error !== null) problems.push(`${p.name}: SUCCEEDED with error ${p.error}`);
    } else if (p.status === 'SUCCEEDED') {
      const last = p.launches.at(-1);
      if (!last || !['succeeded', 'preflight-ok'].includes(last.outcome)) problems.push(`${p.name}: SUCCEEDED but its last launch ended ${last?.outcome ?? '(none)'}`);
      if (p.error !== null) problems.push(`${p.name}: SUCCEEDED with error ${p.error}`);
    }
    if (p.status === 'FAILED' && !p.error) problems.push(`${p.name}: FAILED without an error name`);
    // In each phase execution, every launch but the last was relaunched from, and only an interruption is relaunched from.
    const runs = [...new Set(p.launches.map((l) => l.execution))].map((e) => p.launches.filter((l) => l.execution === e));
    const relaunchedFrom = runs.flatMap((run) => run.slice(0, -1));
    relaunchedFrom.forEach((l) => {
      if (l.outcome !== 'interrupted' && l.outcome !== 'capacity-exhausted') problems.push(`${p.name}: relaunched after attempt ${l.attempt} of ${l.execution} ended ${l.outcome}`);
    });
    // Per shard (a shard's data carry it; an unsharded phase's carry none): the reasons in order.
    for (const shard of [...new Set(p.launches.map((l) => l.shard))]) {
      const problem = reasonProblem(report, p, shard, relaunchedFrom.filter((l) => l.shard === shard));
      if (problem) problems.push(problem);
    }
    // One SpotRetryBudgetExhausted datum per phase execution that gave up after interruptions: the alarm reads it.
  }


  for (const m of report.metrics) {
    if (m.name === METRICS.orphansReaped.name) {
      // The reaper sweeps every 30 minutes; the pipeline and its cleanup must leave it nothing to reap.
      if (m.namespace !== metricNamespace || (m.value !== 0 && !allow.reaperMayAct)) problems.push(`the orphan reaper found work: ${JSON.stringify(m)}`);
    } else if (m.name === METRICS.spotRetryBudgetExhausted.name) {
      if (m.namespace !== metricNamespace || m.value !== 1 || !m.dimensions.Pipeline) problems.push(`unexpected metric datum ${JSON.stringify(m)}`);
    } else if (m.name === METRICS.pipelineCostUsd.name) {
      // One per end of a pipeline run, what it cost (checked against the cloud's record below).
      if (m.namespace !== metricNamespace || !(m.value >= 0) || !m.dimensions.Pipeline) problems.push(`unexpected metric datum ${JSON.stringify(m)}`);
    } else if (m.name === METRICS.phaseDurationSeconds.name) {
      // One per end of a phase execution: how long it ran, as the simulated Step Functions recorded that run.
      const phase = report.phases.find((p) => p.name === m.dimensions.Phase);
      const ran = phase?.runs.some((r) => Math.abs(r.seconds - m.value) <= 1) ?? false;
      if (m.namespace !== metricNamespace || m.dimensions.Pipeline === undefined || !ran) problems.push(`unexpected metric datum ${JSON.stringify(m)} (phase runs: ${JSON.stringify(phase?.runs ?? null)})`);
    } else if (m.name === METRICS.onDemandFallback.name) {
      if (m.namespace !== metricNamespace || m.value !== 1 || !m.dimensions.Phase || !['last-attempt', 'capacity-exhausted', 'interruptions'].includes(m.dimensions.Trigger ?? '')) problems.push(`unexpected metric datum ${JSON.stringify(m)}`);
    } else if (m.name === METRICS.modelPromoted.name) {
      // One per gate decision, 1 promoted or 0 kept: as the gate's own record in S3 says.
      const gate = report.gates.find((g) => g.name === m.dimensions.Gate);
      const expected = gate && gate.decision === 'promoted' && !gate.dryRun ? 1 : 0;
      if (m.namespace !== metricNamespace || !gate || m.value !== expected || !m.dimensions.Pipeline) problems.push(`unexpected metric datum ${JSON.stringify(m)} (gate record: ${JSON.stringify(gate ?? null)})`);
    } else if (m.name !== METRICS.spotInterruptionRetry.name || m.namespace !== metricNamespace || m.value !== 1 || !m.dimensions.Phase || !m.dimensions.Reason) {
      problems.push(`unexpected metric datum ${JSON.stringify(m)}`);
    }
  }
  // The cost figures add up: each phase's its launches', the run's its phases', the waste a part of it.
  const differ = (a: number, b: number) => Math.abs(a - b) > 1e-5;
  for (const p of report.phases) {
    if (differ(p.costUsd, p.launches.reduce((sum, l) => sum + (l.costUsd ?? 0), 0))) problems.push(`${p.name}: costUsd ${p.costUsd} is not the sum of its launches'`);
    for (const l of p.launches) if (l.pool === null && l.costUsd !== 0) problems.push(`${p.name} attempt ${l.attempt}: no instance, yet costUsd ${l.costUsd}`);
  }
  if (differ(report.costUsd, report.phases.reduce((sum, p) => sum + p.costUsd, 0))) problems.push(`costUsd ${report.costUsd} is not the sum of the phases'`);
  if (report.wastedUsd > report.costUsd + 1e-9 || report.wastedUsd < 0) problems.push(`wastedUsd ${report.wastedUsd} is not a part of costUsd ${report.costUsd}`);
  // The pipeline's own PipelineCostUsd data (one per run end) never claim more than the cloud's
  // record of the instances (attempts cut off by an abort leave no record: they may claim less).
  const runCosts = report.metrics.filter((m) => m.name === 'PipelineCostUsd');
  const claimed = runCosts.reduce((sum, m) => sum + m.value, 0);
  if (claimed > report.costUsd * 1.05 + 0.001) problems.push(`PipelineCostUsd data sum to ${claimed}, more than the instances cost (${report.costUsd})`);
  // One OnDemandFallback datum per switch from spot to on-demand; back on spot only after on-demand had no capacity.
  for (const p of report.phases) {
    const runs = [...new Set(p.launches.map((l) => l.execution))].map((e) => p.launches.filter((l) => l.execution === e));
    const fellBack = runs.reduce((n, run) => n + run.filter((l, i) => l.market === 'on-demand' && (i === 0 || run[i - 1]!.market === 'spot')).length, 0);
    const data = report.metrics.filter((m) => m.name === METRICS.onDemandFallback.name && m.dimensions.Phase === p.name).length;
    const refusedEveryTry = (report.throttledCalls['CloudWatch.PutMetricData'] ?? 0) > COUNT_RELAUNCH_RETRY.maxAttempts;
    const inFlight = p.runs.filter((r) => r.stoppedWhileLaunching).length;
    if (data !== fellBack && !(refusedEveryTry && data < fellBack) && !(data > fellBack && data - fellBack <= inFlight)) {
      problems.push(`${p.name}: ${fellBack} phase execution(s) fell back to on-demand, ${data} OnDemandFallback datum(s)`);
    }
    for (const run of runs) {
      run.forEach((l, i) => {
        const before = run[i - 1];
        if (l.market === 'spot' && before?.market === 'on-demand' && before.outcome !== 'capacity-exhausted') problems.push(`${p.name} attempt ${l.attempt}: back on spot after an on-demand attempt that had capacity (${l.execution})`);
      });
    }
  }
  const gaveUp = report.phases.reduce((n, p) => n + p.runs.filter((r) => r.error === 'SpotRetryBudgetExhausted').length, 0);
  const exhaustedData = report.metrics.filter((m) => m.name === METRICS.spotRetryBudgetExhausted.name).length;
  if (exhaustedData !== gaveUp && !(allow.exhaustedDatumMayDrop && exhaustedData < gaveUp)) problems.push(`${gaveUp} phase execution(s) gave up after interruptions, ${exhaustedData} SpotRetryBudgetExhausted datum(s)`);

  const done = (p: (typeof report.phases)[number]) => p.status === 'SUCCEEDED' || p.status === 'SKIPPED';
  if (report.status === 'SUCCEEDED' && report.phases.some((p) => !done(p))) {
    problems.push(`SUCCEEDED, but phase(s) ${report.phases.filter((p) => !done(p)).map((p) => `${p.name} ${p.status}`).join(', ')}`);
  }
  if (report.status === 'FAILED') {
    const failed = report.phases.filter((p) => p.status === 'FAILED');
    if (failed.length === 0) problems.push('FAILED, but no phase failed');
    // A build stage may fail in its own Lambda states (its version unknown, its artifact missing): then that error.
    const buildOwn = failed.some((p) => p.kind === 'build' && p.error === report.error);
    // A sharded phase fails in its own states, with ShardsFailed naming its failed shards.
    const shardsOwn = report.error === 'ShardsFailed' && failed.some((p) => p.shards !== undefined && p.error === 'ShardsFailed');
    if (report.error !== 'States.TaskFailed' && !buildOwn && !shardsOwn) problems.push(`FAILED with error ${String(report.error)}, expected States.TaskFailed (a phase's child execution failed)`);
    const phaseError = causeError(report.cause);
    if (phaseError !== undefined && !failed.some((p) => p.error === phaseError)) {
      problems.push(`the pipeline's cause names error ${phaseError}, which no failed phase has (${failed.map((p) => `${p.name}: ${p.error}`).join(', ')})`);
    }
  }
  return problems;
}

/** Do the SpotInterruptionRetry data of a phase (or one shard of it) name the reasons its relaunched attempts had, in order? */
function reasonProblem(report: SimulationReport, p: SimulationReport['phases'][number], shard: string | undefined, relaunchedFrom: readonly LaunchReport[]): string | undefined {
  const reasons = relaunchedFrom.map((l) => l.reason ?? '(no reason)');
  const metricReasons = report.metrics
    .filter((m) => m.name === METRICS.spotInterruptionRetry.name && m.dimensions.Phase === p.name && m.dimensions.Shard === shard)
    .map((m) => m.dimensions.Reason);
  const inFlight = p.runs.some((r) => r.stoppedWhileLaunching);
  // CloudWatch refusing every try of CountRelaunch drops that datum (contract/budget.ts): then the data are some of the reasons, in order.
  const refusedEveryTry = (report.throttledCalls['CloudWatch.PutMetricData'] ?? 0) > COUNT_RELAUNCH_RETRY.maxAttempts;
  const sameReasons =
    JSON.stringify(metricReasons) === JSON.stringify(reasons) ||
    (inFlight && JSON.stringify(metricReasons.slice(0, reasons.length)) === JSON.stringify(reasons)) ||
    (refusedEveryTry && isSubsequence(metricReasons, reasons));
  const who = shard === undefined ? p.name : `${p.name}[${shard}]`;
  return sameReasons ? undefined : `${who}: metric reasons ${JSON.stringify(metricReasons)} do not match the relaunched attempts' reasons ${JSON.stringify(reasons)}`;
}

/** Is `part` what is left of `whole` with some items taken out? */
function isSubsequence(part: readonly string[], whole: readonly string[]): boolean {
  let i = 0;
  for (const item of whole) if (i < part.length && part[i] === item) i++;
  return i === part.length;
}

/** The phase error carried in a States.TaskFailed cause (the child execution's description). */
export function causeError(cause: string | null): string | undefined {
  if (!cause) return undefined;
  try {
    const parsed = JSON.parse(cause) as { Error?: unknown };
    return typeof parsed.Error === 'string' ? parsed.Error : undefined;
  } catch {
    return undefined;
  }
}
