/** What must hold after every simulated run, whatever the scenario. */
import { METRICS } from '../contract/metrics';

const SPOT_INTERRUPTION_METRIC = METRICS.spotInterruptionRetry.name;
import type { SimulationReport } from './report';

export interface InvariantResult {
  readonly name: string;
  readonly holds: boolean;
  readonly detail?: string;
}

const GENUINE = new Set(['failed', 'hung', 'timed-out']);

/** A phase's launches, per phase execution (a redrive runs the phase again in a new one). */
function byExecution(launches: SimulationReport['phases'][number]['launches']): (typeof launches)[] {
  const groups = new Map<string, typeof launches>();
  for (const l of launches) groups.set(l.execution, [...(groups.get(l.execution) ?? []), l]);
  return [...groups.values()];
}

export function checkInvariants(report: SimulationReport): InvariantResult[] {
  const results: InvariantResult[] = [];

  results.push({
    name: 'no instance left running',
    holds: report.instances.runningAtEnd === 0,
    detail: report.instances.runningAtEnd > 0 ? `${report.instances.runningAtEnd} instance(s) still running` : undefined,
  });

  const overBudget = report.phases.filter(
    (p) => byExecution(p.launches).some((run) => run.some((l) => l.end - run[0]!.start > p.budgetSeconds)) || (byExecution(p.launches).length <= 1 && p.seconds > p.budgetSeconds),
  );
  results.push({
    name: 'no phase ran longer than its budgetSeconds',
    holds: overBudget.length === 0,
    detail: overBudget.map((p) => `${p.name} took ${p.seconds} s of ${p.budgetSeconds} s`).join('; ') || undefined,
  });

  const relaunchedGenuine = report.phases.filter((p) => byExecution(p.launches).some((run) => run.slice(0, -1).some((l) => GENUINE.has(l.outcome))));
  results.push({
    name: 'a genuine workload error was never relaunched',
    holds: relaunchedGenuine.length === 0,
    detail: relaunchedGenuine.map((p) => `${p.name} relaunched after ${p.launches.find((l) => GENUINE.has(l.outcome))?.outcome}`).join('; ') || undefined,
  });

  const mismatched = report.phases.filter((p) => {
    const data = report.metrics.filter((m) => m.name === SPOT_INTERRUPTION_METRIC && m.dimensions.Phase === p.name).length;
    const later = byExecution(p.launches).reduce((n, run) => n + run.length - 1, 0);
    return data !== p.relaunches || p.relaunches !== later;
  });
  const orphanData = report.metrics.filter((m) => m.name === SPOT_INTERRUPTION_METRIC && !report.phases.some((p) => p.name === m.dimensions.Phase));
  results.push({
    name: 'every relaunch put exactly one SpotInterruptionRetry datum, and no datum without a relaunch',
    holds: mismatched.length === 0 && orphanData.length === 0,
    detail:
      [
        ...mismatched.map((p) => {
          const data = report.metrics.filter((m) => m.name === SPOT_INTERRUPTION_METRIC && m.dimensions.Phase === p.name).length;
          return `${p.name}: ${p.relaunches} relaunch(es), ${data} datum(s)`;
        }),
        ...orphanData.map((m) => `datum for unknown phase ${m.dimensions.Phase}`),
      ].join('; ') || undefined,
  });
  return results;
}
