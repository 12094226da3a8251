/**
 * The human-readable account of a simulated run: what happened, when (on the clock of the
 * schedules' time zone), to which phase, attempt and pool; the metrics put; budgets used; and a
 * one-line verdict.
 */
import type { InvariantResult } from './invariants';
import type { Simulation } from './run';
import type { SimulationReport } from './report';
import { buildStages, buildStateNames } from '../contract/config';
import { checkpointSaves, RUNNER_FAILURE_MS, stoppedOnNoticeAt } from './instance-runner';
import { phaseOf, shardOf } from './step-functions';
import { buildTimeline, byStart, elapsedLabel, padRight as pad, phaseTimeline } from '../contract/timeline';

const clock = (ms: number, timezone: string) =>
  new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(ms));

interface Line {
  at: number;
  text: string;
}

function phaseLines(sim: Simulation): Line[] {
  const mode = sim.scenario.mode === 'preflight' || (sim.scenario.input as { mode?: string } | undefined)?.mode === 'preflight' ? 'preflight' : 'full';
  return byStart(sim.stepFunctions.executions.filter((e) => e.parentArn === sim.pipeline.arn)).flatMap((execution) => {
    const shard = shardOf(execution);
    const exits = execution.events.flatMap((event) => (event.type === 'StateExited' && event.state ? [{ state: event.state.name, at: event.timestamp, output: event.state.output }] : []));
    const label = `${phaseOf(execution) ?? '?'}${shard === undefined ? '' : `[${shard}]`}`;
    return phaseTimeline({ label, name: execution.name, startedAt: execution.startedAt, stoppedAt: execution.stoppedAt ?? sim.endedAt, status: execution.status, error: execution.error }, exits, mode);
  });
}

/** What the build stages decided: the version each needed, whether it was there already, what was recorded. */
function buildLines(sim: Simulation): Line[] {
  const stages = buildStages(sim.config).map((stage) => ({ name: stage.name, artifact: stage.artifact, ...buildStateNames(stage.name) }));
  return sim.pipelineRuns.flatMap((run) => buildTimeline(stages, run.events.flatMap((event) => (event.type === 'StateExited' && event.state ? [{ state: event.state.name, at: event.timestamp, output: event.state.output }] : []))));
}

/** What the runner did on the instances, as the simulated cloud recorded it: restores, saves on the notice, refusals. */
function instanceLines(sim: Simulation): Line[] {
  const minute = (ms: number) => Math.floor(ms / 60_000);
  return sim.cloud.invocations.flatMap((inv) => {
    const who = `${pad(`${inv.phase}${inv.shard === undefined ? '' : `[${inv.shard}]`}`, 18)} attempt ${inv.attempt}`;
    const runner = inv.runner;
    if (!runner) return [];
    if (runner.failure) return [{ at: inv.startedAt + RUNNER_FAILURE_MS, text: `${who}  runner refused, nothing ran: ${runner.failure.line}` }];
    const lines: Line[] = [];
    if (runner.resumedFromMs > 0) lines.push({ at: inv.startedAt, text: `${who}  workload resumed from its checkpoint at workload minute ${minute(runner.resumedFromMs)}` });
    const noticeStop = stoppedOnNoticeAt(sim.cloud, inv);
    const saves = checkpointSaves(sim.cloud, inv, sim.endedAt);
    const onNotice = saves.find((save) => save.at === noticeStop);
    if (noticeStop !== undefined && noticeStop <= sim.endedAt) {
      lines.push({
        at: noticeStop,
        text: onNotice
          ? `${who}  spot notice: workload stopped, checkpoint saved at workload minute ${minute(onNotice.progressMs)}`
          : `${who}  spot notice: workload stopped (it keeps no checkpoint: its work so far is lost)`,
      });
    }
    return lines;
  });
}

/** What the account did on its own: cleanup after executions that ended badly, orphan sweeps. */
function reactionLines(sim: Simulation): Line[] {
  return sim.eventBus.deliveries.flatMap((d) => {
    const result = d.result as { executionArn?: string; status?: string; terminated?: string[]; orphans?: unknown[] } | undefined;
    if (d.error) return [{ at: d.at, text: `EventBridge rule ${d.rule}: target failed: ${d.error}` }];
    if (result?.executionArn) {
      const name = result.executionArn.split(':').at(-1);
      const what = result.terminated?.length ? `terminated ${result.terminated.join(', ')}` : 'nothing left running';
      return [{ at: d.at, text: `cleanup after execution ${name} ${result.status}: ${what}` }];
    }
    if (result?.orphans && result.orphans.length > 0) return [{ at: d.at, text: `orphan reaper: ${result.orphans.length} orphan(s) reaped` }];
    return [];
  });
}

export function renderTimeline(sim: Simulation, report: SimulationReport, invariants: InvariantResult[]): string {
  const tz = sim.config.schedules.timezone;
  const t0 = sim.pipelineRuns[0]!.startedAt;
  const out: string[] = [];
  out.push(`Scenario: ${report.scenario}`);
  out.push(`Pipeline: ${sim.config.pipelineName} (${sim.config.phases.length} stage(s)), simulated on virtual time in ${Math.round(sim.realMs)} ms of real time`);
  out.push('');
  out.push(`Timeline (${tz} clock, +elapsed):`);
  // The original run, then each redrive of it (same execution ARN).
  const lines: Line[] = sim.pipelineRuns.map((run, i) => ({
    at: run.startedAt,
    text: i === 0 ? `pipeline started with input ${JSON.stringify(run.input)}` : `pipeline redriven (redrive ${run.redriveCount})`,
  }));
  lines.push(...buildLines(sim));
  lines.push(...phaseLines(sim));
  for (const run of sim.pipelineRuns) lines.push({ at: run.stoppedAt ?? sim.endedAt, text: `pipeline ${run.status}${run.error ? `: ${run.error}` : ''}` });
  lines.push(...reactionLines(sim));
  lines.push(...instanceLines(sim));
  lines.sort((a, b) => a.at - b.at);
  for (const line of lines) out.push(`  ${clock(line.at, tz)}  ${elapsedLabel(line.at, t0)}  ${line.text}`);
  out.push('');
  out.push('Phases:');
  out.push(`  ${pad('phase', 18)} ${pad('status', 10)} ${pad('attempts', 9)} ${pad('interruptions', 14)} ${pad('budget used', 22)} ${pad('work lost', 10)} pools`);
  for (const p of report.phases) {
    const used = `${Math.round(p.seconds / 60)} of ${Math.round(p.budgetSeconds / 60)} min`;
    const pools = p.launches.map((l) => `${l.pool ?? '(none)'}${l.market === 'on-demand' ? ' on-demand' : ''} ${l.outcome}`).join(', ') || '-';
    if (p.shards) {
      out.push(`  ${pad(p.name, 18)} ${pad(p.status, 10)} ${pad(String(p.attempts), 9)} ${pad(String(p.interruptions), 14)} ${pad(`${Math.round(p.seconds / 60)} min end to end`, 22)} ${pad(`${Math.round(p.workLostSeconds / 60)} min`, 10)} ${p.shards.length} shards`);
      for (const sh of p.shards) {
        const shardPools = p.launches.filter((l) => sh.executions.includes(l.execution)).map((l) => `${l.pool ?? '(none)'} ${l.outcome}`).join(', ') || '-';
        out.push(`    ${pad(`[${sh.name}]`, 16)} ${pad(sh.status, 10)} ${pad(String(sh.attempts), 9)} ${pad(String(sh.interruptions), 14)} ${pad(`${Math.round(sh.seconds / 60)} of ${Math.round(sh.budgetSeconds / 60)} min`, 22)} ${pad('', 10)} ${sh.error ? `${sh.error}; ` : ''}${shardPools}`);
      }
      continue;
    }
    out.push(`  ${pad(p.name, 18)} ${pad(p.status, 10)} ${pad(String(p.attempts), 9)} ${pad(String(p.interruptions), 14)} ${pad(used, 22)} ${pad(`${Math.round(p.workLostSeconds / 60)} min`, 10)} ${pools}`);
  }
  if (report.gates.length > 0) {
    out.push('');
    out.push(`Gates (${report.gates.length}):`);
    for (const g of report.gates) {
      out.push(`  ${g.name}: ${g.decision}${g.dryRun ? ' (dry run: nothing copied)' : g.decision === 'promoted' ? ` (${g.copied} file(s) copied to production)` : ''}`);
      for (const reason of g.reasons) out.push(`    ${reason}`);
    }
  }
  if (report.artifacts.length > 0) {
    out.push('');
    out.push(`Artifacts (${report.artifacts.length}):`);
    for (const a of report.artifacts) out.push(`  ${a.name} ${a.version}  sha256 ${a.sha256}  ${a.built ? 'built in this run' : 'already built: not rebuilt'}`);
  }
  if (report.outputs.length > 0) {
    out.push('');
    out.push(`Outputs uploaded to S3 (${report.outputs.length}):`);
    for (const o of report.outputs) out.push(`  s3://${o.key}`);
  }
  out.push('');
  out.push(`Metrics put (${report.metrics.length}):`);
  for (const m of report.metrics) out.push(`  ${m.namespace}/${m.name} = ${m.value}  ${Object.entries(m.dimensions).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (report.metrics.length === 0) out.push('  (none)');
  out.push('');
  out.push(`Instances: ${report.instances.launched} launched, ${report.instances.runningAtEnd} running at the end; workloads run: ${report.workloadsRun}; state transitions: ${report.transitions}`);
  const unpriced = report.phases.flatMap((p) => p.launches).filter((l) => l.costUsd === null).length;
  out.push(
    `Cost: $${report.costUsd.toFixed(4)} (${report.phases.filter((p) => p.costUsd > 0).map((p) => `${p.name} $${p.costUsd.toFixed(4)}`).join(', ') || 'no instance'}); ` +
      `wasted on attempts that did not succeed: $${report.wastedUsd.toFixed(4)}${unpriced > 0 ? `; ${unpriced} launch(es) unpriced` : ''}`,
  );
  out.push('Invariants:');
  for (const inv of invariants) out.push(`  ${inv.holds ? 'ok  ' : 'FAIL'}  ${inv.name}${inv.detail ? ` (${inv.detail})` : ''}`);
  out.push('');
  const interruptions = report.phases.reduce((n, p) => n + p.interruptions, 0);
  const broken = invariants.filter((i) => !i.holds);
  const hours = (report.simulatedSeconds / 3600).toFixed(1);
  const verdict =
    broken.length > 0
      ? `VERDICT: INVARIANT BROKEN (${broken.map((b) => b.name).join('; ')})`
      : report.status === 'SUCCEEDED'
        ? `VERDICT: SUCCEEDED in ${hours} simulated hours; ${interruptions} spot interruption(s) absorbed; no instance left running.`
        : `VERDICT: ${report.status} (${report.error ?? 'no error'}) after ${hours} simulated hours; ${interruptions} spot interruption(s); no instance left running.`;
  out.push(verdict);
  return out.join('\n');
}
