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
import { byId, scheduleInterruption, settle, stateOf } from './ec2';
import { SimulatedAwsError } from './errors';

const MINUTE = 60_000;

function invocation(account: SimulatedAccount, commandId: string, instanceId: string): SimInvocation {
  const found = account.invocations.find((i) => i.commandId === commandId && i.instanceId === instanceId);
  if (!found) throw new SimulatedAwsError('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist)');
  return found;
}

/** Status, exit code and end time of an invocation at this moment. */
export function invocationStatus(account: SimulatedAccount, inv: SimInvocation, now = Date.now()): { status: string; responseCode: number; endedAt?: number } {
  const instance = byId(account, inv.instanceId);
  settle(instance, now);
  const finishAt = inv.hang ? Infinity : inv.startedAt + inv.durationMs;
  const timeoutAt = inv.startedAt + inv.executionTimeoutMs;
  const lostAt = instance.terminatedAt ?? Infinity;
  const cancelAt = inv.cancelledAt ?? Infinity;
  const first = Math.min(finishAt, timeoutAt, lostAt, cancelAt);
  if (now < first) return { status: 'InProgress', responseCode: -1 };
  if (first === finishAt) return { status: inv.exitCode === 0 ? 'Success' : 'Failed', responseCode: inv.exitCode, endedAt: first };
  if (first === cancelAt) return { status: 'Cancelled', responseCode: -1, endedAt: first };
  if (first === timeoutAt) return { status: 'TimedOut', responseCode: -1, endedAt: first };
  return { status: 'Failed', responseCode: -1, endedAt: first };
}

/** The lines the workload printed up to now: one at start, one a minute, one at its end. */
export function outputLines(account: SimulatedAccount, inv: SimInvocation, now = Date.now()): { at: number; line: string }[] {
  const { endedAt } = invocationStatus(account, inv, now);
  const until = Math.min(now, endedAt ?? now);
  const label = inv.mode === 'preflight' ? 'preflight' : 'workload';
  const lines = [{ at: inv.startedAt, line: `${inv.phase} ${label} started (attempt ${inv.attempt})` }];
  if (inv.hang) return lines;
  const total = Math.max(1, Math.round(inv.durationMs / MINUTE));
  for (let m = 1; inv.startedAt + m * MINUTE <= until && m < total; m++) {
    lines.push({ at: inv.startedAt + m * MINUTE, line: `${inv.phase} ${label}: minute ${m} of ${total}` });
  }
  if (endedAt !== undefined && endedAt === inv.startedAt + inv.durationMs) {
    lines.push({ at: endedAt, line: inv.exitCode === 0 ? `${inv.phase} ${label} done` : `${inv.phase} ${label} failed: exit ${inv.exitCode}` });
  }
  return lines;
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
  const phasePlan = account.phasePlan(instance.phase);
  const plan = instance.plan;
  const inv: SimInvocation = {
    commandId: account.nextId('cmd-', 12),
    instanceId: instance.id,
    phase: instance.phase,
    attempt: instance.attempt,
    mode,
    startedAt: now,
    executionTimeoutMs: Number(params.executionTimeout?.[0] ?? 3600) * 1000,
    durationMs: (mode === 'preflight' ? (account.scenario.preflightMinutes ?? 1) : (phasePlan.workloadMinutes ?? 30)) * MINUTE,
    exitCode: mode === 'preflight' ? 0 : (plan.exitCode ?? phasePlan.exitCode ?? 0),
    hang: mode === 'full' && plan.hang === true,
    commands,
  };
  account.invocations.push(inv);
  // Spot's plan for this instance starts with its workload (scenario interruptAtMinute).
  scheduleInterruption(instance, now);
  return { Command: { CommandId: inv.commandId, DocumentName: 'AWS-RunShellScript', Status: 'Pending' } };
}

export function getCommandInvocation(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const inv = invocation(account, String(input.CommandId), String(input.InstanceId));
  const { status, responseCode } = invocationStatus(account, inv);
  const lost = responseCode === -1 && status === 'Failed';
  return {
    CommandId: inv.commandId,
    InstanceId: inv.instanceId,
    Status: status,
    StatusDetails: lost ? 'Undeliverable' : status,
    ResponseCode: responseCode,
    StandardOutputContent: lost ? '' : outputLines(account, inv).map((l) => l.line).join('\n'),
    StandardErrorContent: '',
  };
}

export function cancelCommand(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const ids = (input.InstanceIds ?? []) as string[];
  const now = Date.now();
  for (const inv of account.invocations.filter((i) => i.commandId === input.CommandId && (ids.length === 0 || ids.includes(i.instanceId)))) {
    if (invocationStatus(account, inv, now).status === 'InProgress' && inv.cancelledAt === undefined) inv.cancelledAt = now;
  }
  return {};
}
