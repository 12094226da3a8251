/** What the CLI tests share: the CLI run in-process against a finished run's account, and the timelines. */
import { run } from '../../cli/main';
import type { Clients } from '../../cli/aws';
import { checkInvariants } from '../../simulator/invariants';
import { buildReport } from '../../simulator/report';
import { serveSimulation, type Simulation } from '../../simulator/run';
import { renderTimeline } from '../../simulator/timeline';

export interface Result {
  code: number;
  out: string;
  err: string;
}

/** The CLI, in-process, against the run's simulated account (other clients, or a later moment, when given). */
export async function cliOn(sim: Simulation, argv: readonly string[], options: { clients?: () => Clients; at?: number } = {}): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await serveSimulation(sim, () => run(argv, { out: (t) => out.push(t), err: (t) => err.push(t), ...(options.clients ? { clients: options.clients() } : {}) }), options.at === undefined ? {} : { at: options.at });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The lines of a text's "Timeline (...):" section. */
export function timelineOf(text: string): string[] {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.startsWith('Timeline ('));
  const to = lines.findIndex((l, i) => i > from && l === '');
  return lines.slice(from + 1, to);
}

/**
 * The simulator's timeline lines about the pipeline and its phase executions' states: what the
 * histories hold. (The simulator tells more: what the instances did, seen from inside the simulated
 * cloud, and the account's reactions.)
 */
export function historyTimeline(sim: Simulation): string[] {
  const report = buildReport(sim);
  return timelineOf(renderTimeline(sim, report, checkInvariants(report))).filter((l) => !/spot notice: |workload resumed from its checkpoint|runner refused|cleanup after execution|orphan reaper:|EventBridge rule /.test(l));
}
