/** Pure text rendering of the CLI's pictures (no AWS calls here). */
import { elapsedLabel } from '../contract/timeline';
import type { Launch, PhasePicture, RunPicture } from './picture';

/** The error ValidateInput fails a run with (lambdas/validate-input.ts): a redrive fails the same way. */
export const INVALID_INPUT = 'InvalidExecutionInput';

export const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
export const usd = (n: number) => `$${n.toFixed(4)}`;
/** ISO 8601 in UTC, to the second. */
export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** "3h49m", "12m", "45s". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** A launch as the simulator's timeline names it: "c5a.large/us-east-1b interrupted", "(none) capacity-exhausted". */
export const launchText = (l: Launch) => `${l.pool ?? '(none)'}${l.market === 'on-demand' ? ' on-demand' : ''} ${l.outcome}`;

/** One "Phases:" line's columns (without the pools), as in simulator/timeline.ts. */
function budgetUsed(p: PhasePicture): string {
  if (p.shards) return `${Math.round(p.seconds / 60)} min end to end`;
  return p.budgetSeconds === undefined ? `${Math.round(p.seconds / 60)} min` : `${Math.round(p.seconds / 60)} of ${Math.round(p.budgetSeconds / 60)} min`;
}

export function phaseLines(p: PhasePicture): string[] {
  const cost = p.status === 'NOT_RUN' || p.status === 'SKIPPED' ? '-' : `${usd(p.costUsd)}${p.unpriced > 0 ? '+' : ''}`;
  const pools = p.shards ? `${p.shards.length} shards` : p.launches.map(launchText).join(', ') || '-';
  const lines = [`  ${pad(p.name, 18)} ${pad(p.status, 10)} ${pad(String(p.attempts), 9)} ${pad(String(p.interruptions), 14)} ${pad(budgetUsed(p), 22)} ${pad(cost, 10)} ${pools}`];
  for (const sh of p.shards ?? []) {
    const shardPools = sh.launches.map(launchText).join(', ') || '-';
    const shardCost = usd(sh.launches.reduce((s, l) => s + (l.costUsd ?? 0), 0));
    lines.push(`    ${pad(`[${sh.name}]`, 16)} ${pad(sh.status, 10)} ${pad(String(sh.attempts), 9)} ${pad(String(sh.interruptions), 14)} ${pad(p.budgetSeconds === undefined ? `${Math.round(sh.seconds / 60)} min` : `${Math.round(sh.seconds / 60)} of ${Math.round(p.budgetSeconds / 60)} min`, 22)} ${pad(shardCost, 10)} ${sh.error ? `${sh.error}; ` : ''}${shardPools}`);
  }
  if (p.status === 'FAILED' && p.error) lines.push(`    ${p.error}${p.cause ? `: ${oneLine(causeText(p.cause), 300)}` : ''}`);
  return lines;
}

/**
 * A failure's cause in words: a Lambda error's errorMessage (the cause is its JSON), or, for a phase
 * task that failed (the cause is the SpotPhase execution's description), that execution's own.
 */
export function causeText(cause: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(cause) as unknown;
  } catch {
    return cause;
  }
  const c = (parsed ?? {}) as { errorMessage?: unknown; Error?: unknown; Cause?: unknown; Name?: unknown };
  if (typeof c.errorMessage === 'string') return c.errorMessage;
  if (typeof c.Error === 'string') return `${typeof c.Name === 'string' ? `${c.Name}: ` : ''}${c.Error}${typeof c.Cause === 'string' ? `: ${causeText(c.Cause)}` : ''}`;
  return cause;
}

/** Text on one line, cut to `max` characters. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function verdict(run: RunPicture, now = Date.now()): string {
  const hours = (((run.stoppedAt ?? now) - run.startedAt) / 3_600_000).toFixed(1);
  const interruptions = `${run.interruptions} spot interruption(s)`;
  if (run.status === 'SUCCEEDED') return `VERDICT: SUCCEEDED in ${hours} hours; ${interruptions} absorbed; cost ${usd(run.costUsd)}.`;
  if (run.status === 'RUNNING') {
    const current = run.phases.filter((p) => p.status === 'RUNNING').map((p) => `${p.name} (attempt ${Math.max(1, ...p.launches.map((l) => l.attempt))})`);
    return `VERDICT: RUNNING for ${hours} hours${current.length > 0 ? `, now in ${current.join(', ')}` : ''}; ${interruptions} so far; cost so far ${usd(run.costUsd)}.`;
  }
  const failed = run.phases.filter((p) => p.status === 'FAILED').map((p) => p.name);
  // (A name that starts with "-" would read as an option: the ARN then.)
  const next = run.error === INVALID_INPUT ? 'fix the input and start a new execution' : `redrive with: spot-pipeline redrive ${run.name.startsWith('-') ? run.executionArn : run.name}`;
  return `VERDICT: ${run.status} (${run.error ?? 'no error'}) after ${hours} hours${failed.length > 0 ? ` in ${failed.join(', ')}` : ''}; ${interruptions}; cost ${usd(run.costUsd)}; ${next}`;
}

/** A moment on the timeline's clock: weekday and hh:mm in the time zone (as the simulator prints it). */
const clock = (ms: number, timeZone: string) => new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(ms));

/** `status`: the execution, its timeline, a line per phase (as the simulator's "Phases:" table), the cost and a verdict. */
export function renderStatus(run: RunPicture, now = Date.now(), timeZone = 'UTC'): string {
  const out: string[] = [];
  const elapsed = ((run.stoppedAt ?? now) - run.startedAt) / 1000;
  out.push(`Execution: ${run.name}  ${run.status}${run.error ? ` (${run.error})` : ''}`);
  out.push(`  ${run.executionArn}`);
  out.push(`  started ${iso(run.startedAt)}, ${run.stoppedAt === undefined ? `running for ${duration(elapsed)}` : `ended ${iso(run.stoppedAt)} after ${duration(elapsed)}`}${run.redriveCount > 0 ? `; redriven ${run.redriveCount} time(s)` : ''}`);
  out.push(`  input ${JSON.stringify(run.input)}`);
  if (run.cause) out.push(`  cause: ${oneLine(causeText(run.cause), 400)}`);
  out.push('');
  out.push(`Timeline (${timeZone} clock, +elapsed):`);
  for (const line of run.timeline) out.push(`  ${clock(line.at, timeZone)}  ${elapsedLabel(line.at, run.startedAt)}  ${line.text}`);
  out.push('');
  out.push('Phases:');
  out.push(`  ${pad('phase', 18)} ${pad('status', 10)} ${pad('attempts', 9)} ${pad('interruptions', 14)} ${pad('budget used', 22)} ${pad('cost', 10)} pools`);
  for (const p of run.phases) out.push(...phaseLines(p));
  out.push('');
  const unpriced = run.phases.reduce((n, p) => n + p.unpriced, 0);
  out.push(
    `Cost: ${usd(run.costUsd)} (${run.phases.filter((p) => p.costUsd > 0).map((p) => `${p.name} ${usd(p.costUsd)}`).join(', ') || (run.phases.some((p) => p.launches.some((l) => l.instanceId !== null)) ? 'no priced instance' : 'no instance')}); ` +
      `wasted on attempts that did not succeed: ${usd(run.wastedUsd)}${unpriced > 0 ? `; ${unpriced} launch(es) whose cost is not known (no price, or cut short before the pipeline recorded it)` : ''}`,
  );
  out.push(verdict(run, now));
  return out.join('\n');
}

export interface RunsRow {
  readonly name: string;
  readonly executionArn: string;
  readonly status: string;
  readonly startDate: number;
  readonly stopDate?: number;
  readonly redriveCount: number;
  readonly costUsd?: number;
  /** Some launch's cost is not known (cut short before the pipeline recorded it): at least costUsd. */
  readonly costPartial?: boolean;
}

/** `runs`: one line per execution, newest first. */
export function renderRuns(rows: readonly RunsRow[], now = Date.now()): string {
  if (rows.length === 0) return '(no executions)';
  const width = Math.max(4, ...rows.map((r) => r.name.length));
  const lines = [`${pad('name', width)}  ${pad('status', 10)} ${pad('start (UTC)', 21)} ${pad('duration', 9)} cost`];
  for (const r of rows) {
    const dur = duration(((r.stopDate ?? now) - r.startDate) / 1000) + (r.stopDate === undefined ? '+' : '');
    lines.push(`${pad(r.name, width)}  ${pad(r.status, 10)} ${pad(iso(r.startDate), 21)} ${pad(dur, 9)} ${r.costUsd === undefined ? '-' : `${usd(r.costUsd)}${r.costPartial ? '+' : ''}`}${r.redriveCount > 0 ? `  (redriven ${r.redriveCount}x)` : ''}`);
  }
  return lines.join('\n');
}
