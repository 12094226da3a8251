/**
 * `logs PHASE [--execution X] [--follow]`: the workload's output (stdout and stderr) of a phase's
 * commands in one pipeline execution, from CloudWatch Logs, where Run Command writes it: the
 * workload log group, streams <command id>/<instance id>/aws-runShellScript/stdout and .../stderr
 * (lambdas/aws/workload-logs.ts outputStream). The commands come from the phase executions'
 * histories (each attempt's job names its command and instance).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { workloadOutputStream } from '../contract/names';
import { CliError, executionArnOf, findPipeline, logEvents, workloadLogGroup } from './aws';
import type { Context } from './context';
import { fetchRun } from './fetch';
import type { RunPicture } from './picture';
import { chosenExecution } from './status';

export interface LogsOptions {
  readonly execution?: string;
  readonly follow: boolean;
  /** Between polls with --follow. */
  readonly intervalMs?: number;
}

export async function logsCommand(ctx: Context, phase: string, options: LogsOptions): Promise<number> {
  const machines = await findPipeline(ctx.clients, ctx.pipelineName);
  const arn = options.execution ? executionArnOf(machines.pipelineArn, options.execution) : await chosenExecution(ctx, machines, undefined);
  const group = workloadLogGroup(ctx.pipelineName);
  const seen = new Set<string>();
  const headed = new Set<string>();
  const since = new Map<string, number>();
  // Histories of phase executions that have ended, read once (fetchRun).
  const closed = new Map<string, HistoryEvent[]>();
  let printed = 0;
  for (;;) {
    let run: RunPicture;
    try {
      run = await fetchRun(ctx.clients, arn, { config: ctx.config, pipelineName: ctx.pipelineName, closed });
    } catch (err) {
      if ((err as { name?: string }).name === 'ExecutionDoesNotExist') throw new CliError(`no execution ${options.execution ?? arn} of ${ctx.pipelineName} (see: spot-pipeline runs)`);
      throw err;
    }
    const picture = run.phases.find((p) => p.name === phase);
    if (!picture) throw new CliError(`${phase} is not a phase of ${ctx.pipelineName} in execution ${run.name} (its phases: ${run.phases.map((p) => p.name).join(', ') || 'none started'})`, 2);
    for (const execution of picture.executions) {
      for (const command of execution.commands) {
        const key = `${command.commandId}/${command.instanceId}/`;
        const who = `${phase}${execution.shard === undefined ? '' : `[${execution.shard}]`} attempt ${command.attempt}`;
        // Each stream is read from its own newest line on: CloudWatch takes each stream's lines on their
        // own, so a stderr line may arrive after a later stdout line (one bound for both would skip it).
        const events = [];
        for (const stream of ['stdout', 'stderr'] as const) {
          const name = workloadOutputStream(command.commandId, command.instanceId, stream);
          events.push(...(await logEvents(ctx.clients, group, name, since.get(name))));
        }
        events.sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0));
        for (const e of events) {
          const id = e.eventId ?? `${e.logStreamName}@${e.timestamp}:${e.message}`;
          if (seen.has(id)) continue;
          seen.add(id);
          if (e.logStreamName) since.set(e.logStreamName, Math.max(since.get(e.logStreamName) ?? 0, e.timestamp ?? 0));
          const stream = e.logStreamName?.endsWith('/stderr') ? 'stderr' : 'stdout';
          if (ctx.json) {
            ctx.out(JSON.stringify({ phase, ...(execution.shard === undefined ? {} : { shard: execution.shard }), attempt: command.attempt, execution: execution.name, instanceId: command.instanceId, commandId: command.commandId, stream, timestamp: new Date(e.timestamp ?? 0).toISOString(), message: e.message ?? '' }));
          } else {
            if (!headed.has(key)) {
              headed.add(key);
              ctx.out(`==> ${who} on ${command.instanceId} (command ${command.commandId}, execution ${execution.name}) <==`);
            }
            ctx.out(stream === 'stderr' ? `[stderr] ${e.message ?? ''}` : (e.message ?? ''));
          }
          printed += 1;
        }
      }
    }
    const phaseOver = picture.status !== 'RUNNING' && picture.status !== 'NOT_RUN';
    if (!options.follow || run.status !== 'RUNNING' || phaseOver) {
      if (printed === 0) {
        if (picture.status === 'NOT_RUN') throw new CliError(`${phase} has not run in execution ${run.name} (${run.status})`);
        ctx.err(`no output from ${phase} in execution ${run.name}: no workload command reached an instance, or it printed nothing`);
      }
      return 0;
    }
    await sleep(options.intervalMs ?? 5000);
  }
}
