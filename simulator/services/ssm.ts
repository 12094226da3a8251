/**
 * Simulated AWS Systems Manager: the SSM agent on each instance, Run Command commands and their
 * invocations, and what the workload prints. The AWS behaviours it follows:
 * - The agent registers a while after launch; DescribeInstanceInformation lists an instance as
 *   Online only while it runs with its agent up.
 * - SendCommand to an instance that is not running or whose agent is not up is InvalidInstanceId
 *   (SSM API reference, "SendCommand" errors: "SSM Agent isn't running", "The managed node isn't
 *   in a valid state"). Only AWS-RunShellScript is simulated; its executionTimeout defaults to
 *   3600 seconds (the AWS-RunShellScript document).
 * - An invocation is InProgress, then Success or Failed (by exit code), TimedOut past its
 *   executionTimeout, or Cancelled after CancelCommand; when its instance is gone it ends Failed
 *   with StatusDetails Undeliverable (the statuses and details of the Systems Manager user
 *   guide, "Understanding command statuses"). ResponseCode is -1 while there is no exit code
 *   (SSM API reference, "GetCommandInvocation": "If the response code is -1, then the command
 *   hasn't started running on the managed node, or it wasn't received by the node").
 * - GetCommandInvocation of an unknown command/instance pair is InvocationDoesNotExist (same
 *   page). CancelCommand answers an empty result and cancels what is still in progress.
 */
import { SIM_ACCOUNT } from '../template';
import type { SimInvocation, SimulatedAccount } from './account';
import { RUNNER_NOTICE_LINE, RUNNER_SAVED_LINE } from '../../contract/runner';
import { buildPlan, reportedExit, RUNNER_FAILURE_MS, startRunner, stoppedOnNoticeAt } from '../instance-runner';
import { byId, scheduleInterruption, settle, stateOf } from './ec2';
import { SimulatedAwsError } from './errors';

const MINUTE = 60_000;

function invocation(account: SimulatedAccount, commandId: string, instanceId: string): SimInvocation {
  const found = account.invocations.find((i) => i.commandId === commandId && i.instanceId === instanceId);
  if (!found) throw new SimulatedAwsError('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist)');
  return found;
}

/**
 * 128 + SIGKILL: the Linux agent reports a command it stopped with this exit code, and maps it to
 * a status (amazon-ssm-agent, agent/executers GetStatus, CommandStoppedPreemptivelyExitCode):
 * Failed when the agent itself is shutting down with its instance, Cancelled after a cancel,
 * TimedOut otherwise (its executionTimeout, or a workload the kernel killed: out of memory).
 */
const SIGKILL = 137;

/** Status, exit code and end time of an invocation at this moment. */
export function invocationStatus(account: SimulatedAccount, inv: SimInvocation, now = Date.now()): { status: string; responseCode: number; endedAt?: number } {
  const instance = byId(account, inv.instanceId);
  settle(instance, now);
  // After the spot notice the runner has stopped the workload: it does not finish any more, and the
  // command waits for the interruption (instance/pipeline-runner.sh; instance-runner.ts).
  const stoppedAt = stoppedOnNoticeAt(account, inv);
  const finishAt = inv.hang || (stoppedAt !== undefined && stoppedAt < inv.startedAt + inv.durationMs) ? Infinity : inv.startedAt + inv.durationMs;
  const timeoutAt = inv.startedAt + inv.executionTimeoutMs;
  const lostAt = instance.terminatedAt ?? Infinity;
  const cancelAt = inv.cancelledAt ?? Infinity;
  const first = Math.min(finishAt, timeoutAt, lostAt, cancelAt);
  if (now < first) return { status: 'InProgress', responseCode: -1 };
  if (first === finishAt) {
    // A workload that exits 137 (killed by SIGKILL) is reported as timed out by the agent.
    const status = inv.exitCode === 0 ? 'Success' : inv.exitCode === SIGKILL ? 'TimedOut' : 'Failed';
    return { status, responseCode: inv.exitCode, endedAt: first };
  }
  if (first === cancelAt) return { status: 'Cancelled', responseCode: SIGKILL, endedAt: first };
  if (first === timeoutAt) return { status: 'TimedOut', responseCode: SIGKILL, endedAt: first };
  // The instance shut down under the command: the agent stops it as it shuts down itself.
  return { status: 'Failed', responseCode: SIGKILL, endedAt: first };
}

/** Which streams the workload prints its progress to (scenario phase plan `output`). */
export function outputStreams(account: SimulatedAccount, inv: SimInvocation): ('stdout' | 'stderr')[] {
  if (inv.mode === 'preflight') return ['stdout'];
  const output = account.phasePlan(inv.phase, inv.shard).output ?? 'stdout';
  return output === 'both' ? ['stdout', 'stderr'] : [output];
}

/**
 * The lines the workload printed up to now on one stream: one at start, one every whole minute
 * while it runs, one at its end. With output "both", progress alternates between the streams
 * (odd minutes on stderr), as a program that logs to both does; each stream then has gaps.
 */
export function outputLines(account: SimulatedAccount, inv: SimInvocation, stream: 'stdout' | 'stderr' = 'stdout', now = Date.now()): { at: number; line: string }[] {
  const streams = outputStreams(account, inv);
  const { endedAt } = invocationStatus(account, inv, now);
  // The runner's own failure: it printed why on stdout, and nothing ran.
  if (inv.runner?.failure) return stream === 'stdout' && endedAt !== undefined && endedAt <= now ? [{ at: endedAt, line: inv.runner.failure.line }] : [];
  // On the spot notice the runner stops the workload (it prints no more) and says so on stderr,
  // whichever stream the workload itself prints to.
  const stoppedAt = stoppedOnNoticeAt(account, inv);
  // Then, its checkpoint saved on the notice (instance-runner.ts: the save is at the stop), that it waits for spot.
  const runnerLines = stream === 'stderr' && stoppedAt !== undefined && stoppedAt <= now && (endedAt === undefined || stoppedAt <= endedAt)
    ? [
        { at: stoppedAt, line: RUNNER_NOTICE_LINE },
        { at: stoppedAt, line: `${RUNNER_SAVED_LINE} (workload exit 143)` },
      ]
    : [];
  if (!streams.includes(stream)) return runnerLines;
  const onThis = (n: number) => streams.length === 1 || streams[n % 2] === stream;
  const label = inv.mode === 'preflight' ? 'preflight' : 'workload';
  const until = Math.min(now, endedAt ?? now, stoppedAt ?? Infinity);
  const lines = onThis(0) ? [{ at: inv.startedAt, line: `${inv.phase} ${label} started (attempt ${inv.attempt})` }] : [];
  const resumed = inv.runner?.resumedFromMs ?? 0;
  if (resumed > 0 && onThis(0)) lines.push({ at: inv.startedAt, line: `${inv.phase} ${label}: resuming from its checkpoint at minute ${Math.floor(resumed / MINUTE)}` });
  if (inv.hang) return [...lines, ...runnerLines];
  const total = Math.max(1, Math.ceil(inv.durationMs / MINUTE));
  // Every whole minute strictly before the workload's end, so a fractional duration leaves no gap.
  for (let m = 1; inv.startedAt + m * MINUTE <= until && m * MINUTE < inv.durationMs; m++) {
    if (onThis(m)) lines.push({ at: inv.startedAt + m * MINUTE, line: `${inv.phase} ${label}: minute ${m} of ${total}` });
  }
  if (endedAt !== undefined && endedAt === inv.startedAt + inv.durationMs && onThis(0)) {
    lines.push({ at: endedAt, line: inv.exitCode === 0 ? `${inv.phase} ${label} done` : `${inv.phase} ${label} failed: exit ${inv.exitCode}` });
  }
  return [...lines, ...runnerLines];
}

// ----- operations ---------------------------------------------------------------------------

export function describeInstanceInformation(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const filters = (input.Filters ?? []) as { Key?: string; Values?: string[] }[];
  const ids = filters.find((f) => f.Key === 'InstanceIds')?.Values ?? [];
  const now = Date.now();
  const online = account.instances.filter((i) => ids.includes(i.id) && stateOf(i, now) === 'running' && now >= i.agentOnlineAt);
  return { InstanceInformationList: online.map((i) => ({ InstanceId: i.id, PingStatus: 'Online', PlatformType: 'Linux' })) };
}

export function sendCommand(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  if (input.DocumentName !== 'AWS-RunShellScript') throw new SimulatedAwsError('InvalidDocument', `document ${String(input.DocumentName)} is not simulated`);
  const [instanceId] = (input.InstanceIds ?? []) as string[];
  const instance = account.instances.find((i) => i.id === instanceId);
  const now = Date.now();
  if (!instance || stateOf(instance, now) !== 'running' || now < instance.agentOnlineAt) {
    throw new SimulatedAwsError('InvalidInstanceId', `Instances [${instanceId}] not in a valid state for account ${SIM_ACCOUNT}`);
  }
  const params = (input.Parameters ?? {}) as { commands?: string[]; executionTimeout?: string[] };
  const commands = params.commands ?? [];
  const mode = commands.some((c) => c === "export PIPELINE_MODE='preflight'") ? 'preflight' : 'full';
  const phasePlan = account.phasePlan(instance.phase, instance.shard);
  const plan = instance.plan;
  // The runner's checks and restore (instance-runner.ts), before the workload starts.
  const runner = startRunner(account, instance, commands, mode, now);
  const build = buildPlan(account, runner);
  const plannedMs = (mode === 'preflight' ? (account.scenario.preflightMinutes ?? 1) : (build.minutes ?? phasePlan.workloadMinutes ?? 30)) * MINUTE;
  const workloadExit = mode === 'preflight' ? 0 : (build.exitCode ?? plan.exitCode ?? phasePlan.exitCode ?? 0);
  const inv: SimInvocation = {
    commandId: account.nextId('cmd-', 12),
    instanceId: instance.id,
    phase: instance.phase,
    ...(instance.shard === undefined ? {} : { shard: instance.shard }),
    attempt: instance.attempt,
    mode,
    startedAt: now,
    executionTimeoutMs: Number(params.executionTimeout?.[0] ?? 3600) * 1000,
    // What is left of the workload after the progress its checkpoint restored (at least a second).
    durationMs: runner?.failure ? RUNNER_FAILURE_MS : Math.max(1000, plannedMs - (runner?.resumedFromMs ?? 0)),
    exitCode: runner?.failure ? runner.failure.exitCode : reportedExit(runner, workloadExit),
    hang: mode === 'full' && plan.hang === true && !runner?.failure,
    commands,
    comment: typeof input.Comment === 'string' ? input.Comment : '',
    runner,
  };
  account.invocations.push(inv);
  // Spot's plan for this instance starts with its workload (scenario interruptAtMinute).
  scheduleInterruption(instance, now);
  return { Command: { CommandId: inv.commandId, DocumentName: 'AWS-RunShellScript', Status: 'Pending' } };
}

const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

export function getCommandInvocation(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const inv = invocation(account, String(input.CommandId), String(input.InstanceId));
  const { status, responseCode, endedAt } = invocationStatus(account, inv);
  const text = (stream: 'stdout' | 'stderr') => outputLines(account, inv, stream).map((l) => l.line).join('\n');
  return {
    CommandId: inv.commandId,
    InstanceId: inv.instanceId,
    Comment: inv.comment,
    DocumentName: 'AWS-RunShellScript',
    PluginName: 'aws:runShellScript',
    Status: status,
    // StatusDetails for the statuses simulated here equal the status, but for an execution
    // timeout ("Execution Timed Out" in the console, ExecutionTimedOut in the API).
    StatusDetails: status === 'TimedOut' ? 'ExecutionTimedOut' : status,
    ResponseCode: responseCode,
    ExecutionStartDateTime: iso(inv.startedAt),
    ExecutionElapsedTime: '',
    ExecutionEndDateTime: iso(endedAt),
    StandardOutputContent: text('stdout'),
    StandardErrorContent: text('stderr'),
  };
}

/**
 * ListCommands for one instance (InstanceId), newest first, as the SSM API reference
 * ("ListCommands") describes: each command with its Comment, DocumentName, Parameters, Status.
 * Filters and paging are not simulated.
 */
export function listCommands(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  if (input.Filters !== undefined || input.CommandId !== undefined) throw new SimulatedAwsError('InvalidFilter', 'only InstanceId is simulated for ListCommands');
  const instanceId = input.InstanceId === undefined ? undefined : String(input.InstanceId);
  const commands = account.invocations
    .filter((i) => instanceId === undefined || i.instanceId === instanceId)
    .toReversed()
    .map((inv) => {
      const { status } = invocationStatus(account, inv);
      return {
        CommandId: inv.commandId,
        DocumentName: 'AWS-RunShellScript',
        Comment: inv.comment,
        InstanceIds: [inv.instanceId],
        RequestedDateTime: new Date(inv.startedAt),
        Status: status,
        StatusDetails: status,
        Parameters: { commands: inv.commands, executionTimeout: [String(inv.executionTimeoutMs / 1000)] },
      };
    });
  return { Commands: commands };
}

export function cancelCommand(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const ids = (input.InstanceIds ?? []) as string[];
  const now = Date.now();
  const matching = account.invocations.filter((i) => i.commandId === input.CommandId && (ids.length === 0 || ids.includes(i.instanceId)));
  // An unknown command id is InvalidCommandId (SSM API reference, "CancelCommand" errors).
  if (matching.length === 0) throw new SimulatedAwsError('InvalidCommandId', `command ${String(input.CommandId)} does not exist`);
  for (const inv of matching) {
    if (invocationStatus(account, inv, now).status === 'InProgress' && inv.cancelledAt === undefined) inv.cancelledAt = now;
  }
  return {};
}
