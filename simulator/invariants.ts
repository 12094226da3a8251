/**
 * What must hold after every simulated run, whatever the scenario. Each check judges from what
 * the simulated cloud recorded (instances and who terminated them, what each workload really did,
 * the metric data CloudWatch received, how long each execution ran), never from the labels the
 * pipeline wrote about itself.
 */
import { COUNT_RELAUNCH_RETRY } from '../contract/budget';
import { METRICS } from '../contract/metrics';
import type { LaunchReport, PhaseReport, SimulationReport } from './report';

const SPOT_INTERRUPTION_METRIC = METRICS.spotInterruptionRetry.name;

export interface InvariantResult {
  readonly name: string;
  readonly holds: boolean;
  readonly detail?: string;
}

/**
 * What the workload did that no relaunch may follow: it exited non-zero by itself, it hung, or the
 * runner refused to run it (a download that did not verify, a secret it could not read).
 */
const GENUINE = new Set(['exited', 'hung', 'not-run']);

/** A phase's launches, per phase execution (a redrive runs the phase again in a new one). */
function byExecution(launches: readonly LaunchReport[]): LaunchReport[][] {
  const groups = new Map<string, LaunchReport[]>();
  for (const l of launches) groups.set(l.execution, [...(groups.get(l.execution) ?? []), l]);
  return [...groups.values()];
}

const data = (report: SimulationReport, phase: string) => report.metrics.filter((m) => m.name === SPOT_INTERRUPTION_METRIC && m.dimensions.Phase === phase).length;

/**
 * A datum may precede its launch by a moment (the state machine puts it on the way to
 * LaunchInstance): a phase execution stopped while that launch was in flight may hold one datum
 * more than launches. And one fewer when CloudWatch throttled every try.
 */
function datumProblem(report: SimulationReport, p: PhaseReport): string | undefined {
  const put = data(report, p.name);
  const inFlight = p.runs.filter((r) => r.stoppedWhileLaunching).length;
  if (put === p.relaunches || (put > p.relaunches && put - p.relaunches <= inFlight)) return undefined;
  // CloudWatch refused every try CountRelaunch makes (contract/budget.ts): the datum is dropped
  // rather than delay the relaunch further; the cloud's record shows it.
  const refusedEveryTry = (report.throttledCalls['CloudWatch.PutMetricData'] ?? 0) > COUNT_RELAUNCH_RETRY.maxAttempts;
  if (put < p.relaunches && refusedEveryTry) return undefined;
  return `${p.name}: ${p.relaunches} relaunch(es) launched, ${put} datum(s)`;
}

export function checkInvariants(report: SimulationReport): InvariantResult[] {
  const results: InvariantResult[] = [];

  results.push({
    name: 'no instance left running',
    holds: report.instances.runningAtEnd === 0,
    detail: report.instances.runningAtEnd > 0 ? `${report.instances.runningAtEnd} instance(s) still running` : undefined,
  });

  // Each phase execution ends within its budget, and every instance the pipeline itself
  // terminated was gone by then. (An instance a task could not terminate before its deadline is
  // the safety net's, which acts when the execution has ended: it must be gone, not on time.)
  const overBudget = report.phases.flatMap((p) => [
    ...p.runs.filter((r) => r.seconds > p.budgetSeconds).map((r) => `${p.name} execution ${r.execution} took ${r.seconds} s of ${p.budgetSeconds} s`),
    ...byExecution(p.launches).flatMap((run) =>
      run
        .filter((l) => l.cloud.terminatedBy === 'pipeline' && l.end - run[0]!.start > p.budgetSeconds)
        .map((l) => `${p.name} attempt ${l.attempt}: instance ${l.instanceId} terminated ${l.end - run[0]!.start} s after the phase's first launch (budget ${p.budgetSeconds} s)`),
    ),
  ]);
  results.push({ name: 'no phase ran longer than its budgetSeconds', holds: overBudget.length === 0, detail: overBudget.join('; ') || undefined });

  const relaunchedGenuine = report.phases.flatMap((p) =>
    byExecution(p.launches).flatMap((run) =>
      run.slice(0, -1).filter((l) => GENUINE.has(l.cloud.workload)).map((l) => `${p.name} attempt ${l.attempt}: the workload ${l.cloud.workload}, yet the phase launched again`),
    ),
  );
  results.push({ name: 'a genuine workload error was never relaunched', holds: relaunchedGenuine.length === 0, detail: relaunchedGenuine.join('; ') || undefined });

  const mismatched = report.phases.map((p) => datumProblem(report, p)).filter((x) => x !== undefined);
  const orphanData = report.metrics.filter((m) => m.name === SPOT_INTERRUPTION_METRIC && !report.phases.some((p) => p.name === m.dimensions.Phase));
  results.push({
    name: 'every relaunch put exactly one SpotInterruptionRetry datum, and no datum without a relaunch',
    holds: mismatched.length === 0 && orphanData.length === 0,
    detail: [...mismatched, ...orphanData.map((m) => `datum for unknown phase ${m.dimensions.Phase}`)].join('; ') || undefined,
  });

  const twice = report.phases.flatMap((p) => p.launches.filter((l) => l.cloud.workloadsStarted > 1).map((l) => `${p.name} attempt ${l.attempt}: ${l.cloud.workloadsStarted} workload commands on one instance`));
  results.push({ name: 'every attempt ran its workload at most once', holds: twice.length === 0, detail: twice.join('; ') || undefined });

  // The notice is for saving: when the phase relaunched after one, the runner's save on it had
  // reached S3 (the pipeline did not take the instance or the command away first), and the next
  // workload resumed from at least there.
  const cutOff = report.phases.flatMap((p) =>
    byExecution(p.launches).flatMap((run) =>
      run.slice(0, -1).flatMap((l, i) => {
        const save = l.cloud.noticeSave;
        if (!save) return [];
        if (!save.saved) return [`${p.name} attempt ${l.attempt}: relaunched, but the runner's save on the notice never reached S3 (the instance or command was taken away first)`];
        const next = run.slice(i + 1).find((n) => n.resumedFromSeconds !== null);
        return next && next.resumedFromSeconds! < save.progressSeconds
          ? [`${p.name} attempt ${next.attempt}: resumed from ${next.resumedFromSeconds} s, though the notice saved ${save.progressSeconds} s`]
          : [];
      }),
    ),
  );
  results.push({ name: 'a relaunch after a spot notice resumed from what the notice saved', holds: cutOff.length === 0, detail: cutOff.join('; ') || undefined });

  // A sharded phase that succeeded ran every shard (a preflight: its first), each in executions of its own.
  const unrun = report.phases.flatMap((p) =>
    p.status !== 'SUCCEEDED' || !p.shards
      ? []
      : (report.mode === 'preflight' ? p.shards.slice(0, 1) : p.shards).filter((sh) => sh.executions.length === 0).map((sh) => `${p.name}[${sh.name}] never ran, yet the phase succeeded`),
  );
  results.push({ name: 'a sharded phase that succeeded ran every shard', holds: unrun.length === 0, detail: unrun.join('; ') || undefined });
  return results;
}
