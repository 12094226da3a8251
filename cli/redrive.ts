/**
 * `redrive EXECUTION [--yes]`: what a redrive of a failed, timed-out or aborted pipeline execution
 * will do, in plain words (README "Watching and redriving": it resumes at the state that did not
 * succeed, with the definition and input the execution started with; succeeded phases are kept; a
 * failed phase starts over in a new SpotPhase execution at attempt 1 with its full budget; in a
 * sharded phase only the failed shards run again), then RedriveExecution, with --yes only.
 */
import { CliError, describe, redriveExecution } from './aws';
import type { Context } from './context';
import { causeText, INVALID_INPUT, iso, oneLine } from './format';
import type { RunPicture } from './picture';
import { chosenRun } from './status';

const REDRIVABLE = new Set(['FAILED', 'ABORTED', 'TIMED_OUT']);

export interface RedrivePlan {
  readonly execution: string;
  readonly status: string;
  readonly kept: string[];
  /** shardsComplete: the shards listed are every shard of the phase (its config was at hand), not only those that started. */
  readonly rerun: { phase: string; why: string; shardsRerun?: string[]; shardsKept?: string[]; shardsComplete?: boolean }[];
  readonly notRunYet: string[];
}

export function redrivePlan(run: RunPicture, shardsDeclared = false): RedrivePlan {
  const kept: string[] = [];
  const rerun: RedrivePlan['rerun'] = [];
  const notRunYet: string[] = [];
  for (const p of run.phases) {
    if (p.status === 'SUCCEEDED' || p.status === 'SKIPPED') kept.push(p.name);
    else if (p.status === 'NOT_RUN') notRunYet.push(p.name);
    else if (p.shards) {
      const ok = p.shards.filter((s) => s.status === 'SUCCEEDED').map((s) => s.name);
      const failed = p.shards.filter((s) => s.status !== 'SUCCEEDED').map((s) => s.name);
      rerun.push({ phase: p.name, why: p.error ?? p.status, shardsRerun: failed, shardsKept: ok, shardsComplete: shardsDeclared });
    } else rerun.push({ phase: p.name, why: `${p.error ?? p.status}${p.cause ? ` (${causeText(p.cause)})` : ''}` });
  }
  return { execution: run.name, status: run.status, kept, rerun, notRunYet };
}

export function renderPlan(run: RunPicture, plan: RedrivePlan): string {
  const out = [`Redrive of ${run.name} (${run.status}${run.error ? `: ${run.error}` : ''}; redriven ${run.redriveCount} time(s) so far):`];
  const next = run.redriveCount + 1;
  out.push(`  kept, not re-run (succeeded): ${plan.kept.join(', ') || 'none'}`);
  if (plan.rerun.length === 0) out.push('  re-run: no phase failed; the pipeline resumes at the state that did not succeed');
  for (const r of plan.rerun) {
    const shards = r.shardsRerun ? `: shards ${r.shardsRerun.join(', ')} run again${r.shardsKept?.length ? ` (${r.shardsKept.join(', ')} kept)` : ''}${r.shardsComplete ? '' : ', and any shard not started yet (--config FILE names them)'}, each` : '';
    out.push(`  re-run: ${r.phase}${shards} in a new SpotPhase execution (-r${next}), from attempt 1 with its full budget; it ended ${oneLine(r.why, 200)}`);
  }
  if (plan.notRunYet.length > 0) out.push(`  then, as never run before: ${plan.notRunYet.join(', ')}`);
  out.push('  with the definition and input the execution started with (a config deployed since does not apply; the Lambda code is today\'s).');
  if (run.error === INVALID_INPUT) out.push(`  warning: the same input fails validation again (${oneLine(causeText(run.cause ?? ''), 160)}): start a new execution instead (spot-pipeline start)`);
  return out.join('\n');
}

export async function redriveCommand(ctx: Context, execution: string, yes: boolean): Promise<number> {
  const run = await chosenRun(ctx, execution);
  if (!REDRIVABLE.has(run.status)) throw new CliError(`${run.name} is ${run.status}: only a FAILED, TIMED_OUT or ABORTED execution can be redriven`);
  // What Step Functions says now (its 14-day window among the reasons): no plan for a redrive it would refuse.
  const described = await describe(ctx.clients, run.executionArn);
  if (described.redriveStatus === 'NOT_REDRIVABLE') {
    const reason = described.redriveStatusReason ?? 'Step Functions will not redrive it';
    const instead = /period exceeded/i.test(reason) ? ' (an execution is redrivable for 14 days after it ended): start a new execution instead (spot-pipeline start)' : '';
    throw new CliError(`${run.name} cannot be redriven: ${reason}${instead}`);
  }
  const plan = redrivePlan(run, ctx.config.pipelineName === ctx.pipelineName);
  if (!ctx.json) ctx.out(renderPlan(run, plan));
  if (!yes) {
    if (ctx.json) ctx.out(JSON.stringify({ ...plan, redriven: false }, null, 2));
    else ctx.out('Nothing redriven: run again with --yes to redrive.');
    return 0;
  }
  const redriveDate = await redriveExecution(ctx.clients, run.executionArn);
  if (ctx.json) ctx.out(JSON.stringify({ ...plan, redriven: true, redriveDate: redriveDate?.toISOString() ?? null }, null, 2));
  else ctx.out(`Redriven: ${run.executionArn}${redriveDate ? ` at ${iso(redriveDate.getTime())}` : ''} (watch it: spot-pipeline status ${run.name})`);
  return 0;
}
