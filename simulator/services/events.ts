/**
 * The events the simulated account sends to EventBridge about its EC2 instances and SSM commands.
 * The AWS behaviours it follows:
 * - Every event has the EventBridge envelope: version "0", id, detail-type, source, account, time,
 *   region, resources, detail (EventBridge user guide, "Amazon EventBridge events"); `time` is to
 *   the second, as in AWS's examples.
 * - "EC2 Instance State-change Notification" (source aws.ec2, resources [instance ARN], detail
 *   {"instance-id", "state"}) whenever an instance changes state (EC2 user guide, "Amazon EC2
 *   instance state change events"): pending at launch, running, terminated; the simulated instance
 *   has no stopping, stopped or shutting-down state, so none is sent. An instance terminated while
 *   still pending never reports running.
 * - "EC2 Spot Instance Interruption Warning" (source aws.ec2, resources [instance ARN], detail
 *   {"instance-id", "instance-action"}) at the interruption notice, two minutes before EC2
 *   interrupts the instance (EC2 user guide, "Spot Instance interruption notices", "EC2 Spot Instance
 *   Interruption Warning event"); instance-action is "terminate" (the simulated interruption
 *   terminates). None for an instance terminated by then.
 * - "EC2 Command Invocation Status-change Notification" (source aws.ssm, resources [instance ARN],
 *   detail {"command-id", "document-name", "instance-id", "requested-date-time", "status"}) whenever
 *   a command invocation's status changes (Systems Manager user guide, "Amazon EventBridge event
 *   examples for Systems Manager", Run Command events): InProgress when sent (the simulated agent
 *   takes a command at once: it is never Pending), then Success, Failed, TimedOut or Cancelled
 *   (Cancelled as CancelCommand returns).
 * - Delivery is best effort ("Interruption notices are emitted on a best effort basis", same EC2
 *   page; EventBridge events reference, "Amazon EC2 Systems Manager events": delivery type "Best
 *   effort"): a scenario's `lostEvents` loses every event of the detail-types it names.
 *
 * The services keep no clock: their state changes in an API call (handleCall calls watchEvents
 * after every operation, RunInstances, CreateFleet, SendCommand, TerminateInstances, CancelCommand
 * included) or with time (running 30 s after launch, the notice, the reclaim two minutes after it, a
 * command's end or timeout). For the latter, watchEvents schedules itself on the process clock (the
 * fake clock in a simulation) at each such moment and looks again; whatever it finds then was true
 * since that moment. Nothing is watched while nobody listens (account.events unset).
 */
import { SIM_ACCOUNT, SIM_REGION } from '../template';
import type { SimInstance, SimInvocation, SimulatedAccount } from './account';
import { stateOf } from './ec2';
import { COMMAND_INVOCATION_STATUS_CHANGE, INSTANCE_STATE_CHANGE, SPOT_INTERRUPTION_WARNING } from './event-types';
import { invocationStatus } from './ssm';

/** An event as EventBridge carries it. */
export type AwsEvent = {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: Record<string, unknown>;
};

/** ec2.ts: from launch until EC2 reports the instance running (events.test.ts checks they agree). */
const PENDING_MS = 30_000;
/** ec2.ts: the notice gives the instance two more minutes (EC2 user guide, "Spot Instance interruption notices"). */
const NOTICE_MS = 2 * 60_000;
const TERMINAL_STATUSES = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

const instanceArn = (id: string) => `arn:aws:ec2:${SIM_REGION}:${SIM_ACCOUNT}:instance/${id}`;

/** An event of the account, now; its id is unique in the account (and replays the same run after run). */
function event(account: SimulatedAccount, detailType: string, source: string, instanceId: string, detail: Record<string, unknown>): AwsEvent {
  account.eventWatch.seq += 1;
  return {
    version: '0',
    id: `00000000-0000-4000-8000-${account.eventWatch.seq.toString(16).padStart(12, '0')}`,
    'detail-type': detailType,
    source,
    account: SIM_ACCOUNT,
    time: new Date(Date.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: SIM_REGION,
    resources: [instanceArn(instanceId)],
    detail,
  };
}

/** Look again at this moment (once per moment). */
function wakeAt(account: SimulatedAccount, at: number, now: number): void {
  if (at <= now || account.eventWatch.wakes.has(at)) return;
  account.eventWatch.wakes.add(at);
  setTimeout(() => {
    account.eventWatch.wakes.delete(at);
    watchEvents(account);
  }, at - now);
}

function watchInstance(account: SimulatedAccount, instance: SimInstance, now: number): void {
  const reported = account.eventWatch.instances.get(instance.id) ?? new Set<string>();
  account.eventWatch.instances.set(instance.id, reported);
  const state = stateOf(instance, now);
  const report = (key: string, detailType: string, detail: Record<string, unknown>) => {
    reported.add(key);
    account.emit(event(account, detailType, 'aws.ec2', instance.id, { 'instance-id': instance.id, ...detail }));
  };
  if (!reported.has('pending')) report('pending', INSTANCE_STATE_CHANGE, { state: 'pending' });
  if (state === 'running' && !reported.has('running')) report('running', INSTANCE_STATE_CHANGE, { state: 'running' });
  const notice = instance.noticeAt;
  if (notice !== undefined && now >= notice && !reported.has('warning')) {
    reported.add('warning');
    if (instance.terminatedAt === undefined || instance.terminatedAt > notice) report('warning', SPOT_INTERRUPTION_WARNING, { 'instance-action': 'terminate' });
  }
  if (state === 'terminated' && !reported.has('terminated')) report('terminated', INSTANCE_STATE_CHANGE, { state: 'terminated' });
  if (reported.has('terminated')) return;
  if (!reported.has('running')) wakeAt(account, instance.launchedAt + PENDING_MS, now);
  if (notice !== undefined) {
    wakeAt(account, notice, now);
    wakeAt(account, notice + NOTICE_MS, now);
  }
}

function watchInvocation(account: SimulatedAccount, inv: SimInvocation, now: number): void {
  const key = `${inv.commandId}/${inv.instanceId}`;
  const last = account.eventWatch.invocations.get(key);
  if (last !== undefined && TERMINAL_STATUSES.has(last)) return;
  const { status } = invocationStatus(account, inv, now);
  if (status !== last) {
    account.eventWatch.invocations.set(key, status);
    account.emit(
      event(account, COMMAND_INVOCATION_STATUS_CHANGE, 'aws.ssm', inv.instanceId, {
        'command-id': inv.commandId,
        'document-name': 'AWS-RunShellScript',
        'instance-id': inv.instanceId,
        'requested-date-time': new Date(inv.startedAt).toISOString(),
        status,
      }),
    );
  }
  if (TERMINAL_STATUSES.has(status)) return;
  // Its end by itself or by its timeout; its instance's end comes with the instance's own wake-ups.
  if (!inv.hang) wakeAt(account, inv.startedAt + inv.durationMs, now);
  wakeAt(account, inv.startedAt + inv.executionTimeoutMs, now);
}

/** Report what changed since the last look, and look again when something is due to change by itself. */
export function watchEvents(account: SimulatedAccount): void {
  if (!account.events) return;
  const now = Date.now();
  for (const instance of account.instances) {
    if (!account.eventWatch.instances.get(instance.id)?.has('terminated')) watchInstance(account, instance, now);
  }
  for (const inv of account.invocations) watchInvocation(account, inv, now);
}
