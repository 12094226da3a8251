/**
 * The spot strategy side by side, over a fixed set of scenarios, in one run (`npm run benchmark`):
 * rotation (RunInstances pool by pool) against the fleet (one CreateFleet, price-capacity-optimized),
 * and polling (waitFor "polls") against the event-driven wait (waitFor "events"). Every figure comes
 * from what the simulated cloud recorded: its API calls, its launches and notices, Step Functions'
 * own count of state transitions, SSM's workload runs. Prints Markdown tables (the README shows them).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SATURDAY_PIPELINE } from '../lib/config/defaults';
import { buildReport } from '../simulator/report';
import { runSimulation, type Simulation } from '../simulator/run';
import { parseScenario } from '../simulator/scenario';

const ROOT = path.join(__dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'benchmark-'));

/** A config file: a shipped one or the built-in pipeline, with these top-level fields changed. */
function config(base: string | undefined, extra: Record<string, unknown>): string {
  const raw = base
    ? (JSON.parse(readFileSync(path.join(ROOT, base), 'utf8')) as Record<string, unknown>)
    : { ...SATURDAY_PIPELINE, code: path.join(ROOT, 'workloads', 'saturday') };
  const file = path.join(dir, `${Object.values(extra).join('-')}-${path.basename(base ?? 'saturday.json')}`);
  writeFileSync(file, JSON.stringify({ ...raw, ...extra }));
  return file;
}

async function run(scenario: Record<string, unknown>, configFile: string): Promise<Simulation> {
  return runSimulation(parseScenario({ ...scenario, config: configFile }));
}

const launchCalls = (sim: Simulation) => (sim.cloud.calls.get('EC2.RunInstances') ?? 0) + (sim.cloud.calls.get('EC2.CreateFleet') ?? 0);
/** Virtual seconds from the first phase execution's start to its first instance. */
function timeToCapacity(sim: Simulation): number {
  const first = buildReport(sim).phases[0]!.launches.find((l) => l.pool !== null);
  return first ? first.start : NaN;
}
const workloadHours = (sim: Simulation) => sim.cloud.invocations.filter((i) => i.mode === 'full' && !i.runner?.failure).reduce((h, i) => h + i.durationMs, 0) / 3_600_000;
/** Seconds from spot's notice to the relaunch's launch call (the first interrupted launch with a notice). */
function noticeToRelaunch(sim: Simulation): number {
  for (const p of buildReport(sim).phases) {
    const i = p.launches.findIndex((l) => l.noticeAt !== null && l.outcome === 'interrupted');
    if (i >= 0 && p.launches[i + 1]) return p.launches[i + 1]!.start - p.launches[i]!.noticeAt!;
  }
  return NaN;
}

const CAPACITY: [string, string, Record<string, unknown>][] = [
  ['eight of nine pools gone', 'examples/nine-pools.json', { phases: { Crunch: { workloadMinutes: 30, attempts: [{ unavailable: ['c5.large/*', 'c5a.large/*', 'm5.large/us-east-1a', 'm5.large/us-east-1c'] }] } } }],
  ['one instance type gone', 'examples/nine-pools.json', { phases: { Crunch: { workloadMinutes: 30, attempts: [{ unavailable: ['c5.large/*'] }] } } }],
  ['every pool gone, then back', 'examples/nine-pools.json', { phases: { Crunch: { workloadMinutes: 30, attempts: [{ unavailable: ['*'] }] } } }],
  ['reclaimed at minute 10', 'examples/nine-pools.json', { phases: { Crunch: { workloadMinutes: 30, attempts: [{ interruptAtMinute: 10 }] } } }],
];

const SATURDAY = { Research: { workloadMinutes: 45 }, PredictorTraining: { workloadMinutes: 70 }, Backtester: { workloadMinutes: 40 } };
/** A reclaim of DataPhase1 at this workload minute (the notice falls at different points of the poll cycle). */
const reclaimedAt = (minute: number) => ({ phases: { DataPhase1: { workloadMinutes: 34, checkpointEveryMinutes: 5, attempts: [{ interruptAtMinute: minute }] }, ...SATURDAY } });
const WAITING: [string, Record<string, unknown>[]][] = [
  ['clean Saturday (34, 45, 70, 40 min)', [{ phases: { DataPhase1: { workloadMinutes: 34 }, ...SATURDAY } }]],
  ['clean, 30-minute workloads', [{}]],
  ['DataPhase1 reclaimed at minute 20, 20.2, ... 20.8 (mean; worst)', [20, 20.2, 20.4, 20.6, 20.8].map(reclaimedAt)],
];

async function main(): Promise<void> {
  const started = performance.now();
  const lines: string[] = [];
  lines.push('Capacity: rotation (RunInstances pool by pool) vs fleet (one CreateFleet, price-capacity-optimized), examples/nine-pools.json', '');
  // (Simulated API calls take no time: the first instance's second counts only the backoffs between attempts.)
  lines.push('| scenario | rotation: launch calls | fleet: launch calls | rotation: first instance (s) | fleet: first instance (s) |', '|---|---|---|---|---|');
  for (const [name, base, scenario] of CAPACITY) {
    const rotation = await run(scenario, config(base, { allocation: 'rotation' }));
    const fleet = await run(scenario, config(base, { allocation: 'price-capacity-optimized' }));
    lines.push(`| ${name} | ${launchCalls(rotation)} | ${launchCalls(fleet)} | ${timeToCapacity(rotation)} | ${timeToCapacity(fleet)} |`);
  }
  lines.push('', 'Waiting: polls every 60 s (waitFor "polls") vs events (waitFor "events"), the built-in Saturday pipeline', '');
  lines.push('| scenario | polls: transitions / workload-hour | events: transitions / workload-hour | polls: notice to relaunch (s) | events: notice to relaunch (s) |', '|---|---|---|---|---|');
  for (const [name, scenarios] of WAITING) {
    const polls: Simulation[] = [];
    const events: Simulation[] = [];
    for (const scenario of scenarios) {
      polls.push(await run(scenario, config(undefined, { waitFor: 'polls' })));
      events.push(await run(scenario, config(undefined, { waitFor: 'events' })));
    }
    const perHour = (sims: Simulation[]) => (sims.reduce((n, sim) => n + sim.stepFunctions.transitions(), 0) / sims.reduce((h, sim) => h + workloadHours(sim), 0)).toFixed(1);
    const notice = (sims: Simulation[]) => {
      const seconds = sims.map(noticeToRelaunch).filter((x) => !Number.isNaN(x));
      if (seconds.length === 0) return '-';
      const mean = seconds.reduce((a, b) => a + b, 0) / seconds.length;
      return seconds.length === 1 ? String(seconds[0]) : `${mean.toFixed(0)}; ${Math.max(...seconds)}`;
    };
    lines.push(`| ${name} | ${perHour(polls)} | ${perHour(events)} | ${notice(polls)} | ${notice(events)} |`);
  }
  console.log(lines.join('\n'));
  console.error(`(benchmark: ${((performance.now() - started) / 1000).toFixed(1)} s of real time)`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
