/**
 * Simulated Amazon EC2: spot capacity pools, instances and their spot requests, and launch.
 * The AWS behaviours it follows:
 * - RunInstances refuses a launch template or subnet that does not exist
 *   (InvalidLaunchTemplateId.NotFound, InvalidSubnetID.NotFound: EC2 API reference, "Error codes
 *   for the Amazon EC2 API"), and a pool with no spot capacity with the capacity error the
 *   scenario names (InsufficientInstanceCapacity by default, same reference).
 * - RunInstances with a ClientToken already used answers the instance that token launched and
 *   launches nothing ("Ensuring idempotency in Amazon EC2 API requests"); TerminateInstances is
 *   idempotent by default (same page). IdempotentParameterMismatch is not simulated.
 * - An instance is pending, then running, then terminated, with the state codes of the
 *   InstanceState type (0, 16, 48), and its StateReason once terminated (EC2 API reference,
 *   "StateReason": Client.UserInitiatedShutdown, Server.SpotInstanceTermination).
 * - A spot interruption notice comes two minutes before EC2 terminates the instance (EC2 user
 *   guide, "Spot Instance interruption notices"); the spot request's status code says what
 *   happened (EC2 user guide, "Spot request status": fulfilled, marked-for-termination,
 *   instance-terminated-no-capacity, instance-terminated-by-user, ...).
 * - DescribeInstances filters by instance-state-name and tag:<key>; terminated instances stay
 *   visible; an unknown instance ID is InvalidInstanceID.NotFound (EC2 API reference,
 *   "DescribeInstances" and "Error codes").
 */
import { TAG } from '../../contract/tags';
import { priceOf } from '../prices';
import { poolMatches, type AttemptPlan } from '../scenario';
import type { SimInstance, SimulatedAccount } from './account';
import { currentCaller } from '../caller';
import { SimulatedAwsError } from './errors';

const MINUTE = 60_000;
const DEFAULT_INTERRUPTION_STATUS = 'instance-terminated-no-capacity';
const DEFAULT_INTERRUPTION_REASON = 'Server.SpotInstanceTermination';
/** A spot notice gives the instance two more minutes. */
const NOTICE_MS = 2 * MINUTE;
/** From launch until EC2 reports the instance running. */
const PENDING_MS = 30_000;

type Filter = { Name?: string; Values?: string[] };

// ----- instance lifecycle (read by SSM and the report too) -----------------------------------

/** The instance's state at this moment. */
export function stateOf(instance: SimInstance, now = Date.now()): string {
  settle(instance, now);
  if (instance.terminatedAt !== undefined && now >= instance.terminatedAt) return 'terminated';
  return now - instance.launchedAt < PENDING_MS ? 'pending' : 'running';
}

/** Apply a due spot reclamation: two minutes after the notice, the instance is gone. */
export function settle(instance: SimInstance, now: number): void {
  if (instance.terminatedAt === undefined && instance.noticeAt !== undefined && now >= instance.noticeAt + NOTICE_MS) {
    instance.terminatedAt = instance.noticeAt + NOTICE_MS;
    instance.terminatedBy = 'spot';
    instance.stateReason = instance.stateReasonAfterInterruption ?? undefined;
  }
}

export function spotStatusOf(instance: SimInstance, now = Date.now()): string {
  settle(instance, now);
  if (instance.noticeAt !== undefined && now >= instance.noticeAt && instance.spotStatusAfterNotice) return instance.spotStatusAfterNotice;
  if (instance.terminatedBy === 'pipeline') return 'instance-terminated-by-user';
  return 'fulfilled';
}

/**
 * Spot's plan for an instance whose workload starts now: when the attempt's plan interrupts it,
 * the notice comes interruptAtMinute minutes later (once per instance).
 */
export function scheduleInterruption(instance: SimInstance, now: number): void {
  if (instance.plan.interruptAtMinute !== undefined) noticeAt(instance, now + instance.plan.interruptAtMinute * MINUTE);
}

/** Spot's plan for an instance that just launched: the notice interruptAfterLaunchMinutes after launch (while it boots, typically). */
function scheduleInterruptionAfterLaunch(instance: SimInstance): void {
  if (instance.plan.interruptAfterLaunchMinutes !== undefined) noticeAt(instance, instance.launchedAt + instance.plan.interruptAfterLaunchMinutes * MINUTE);
}

/** The interruption notice comes at this moment (once per instance: the first plan that sets it wins). */
function noticeAt(instance: SimInstance, at: number): void {
  if (instance.noticeAt !== undefined) return;
  const plan = instance.plan;
  instance.noticeAt = at;
  instance.spotStatusAfterNotice = plan.spotStatus === undefined ? DEFAULT_INTERRUPTION_STATUS : plan.spotStatus;
  instance.stateReasonAfterInterruption = plan.stateReason === undefined ? DEFAULT_INTERRUPTION_REASON : plan.stateReason;
}

export function byId(account: SimulatedAccount, id: string): SimInstance {
  const instance = account.instances.find((i) => i.id === id);
  if (!instance) throw new SimulatedAwsError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
  return instance;
}

/**
 * The plan of a launch attempt, from what the request is tagged with (phase, shard, attempt, and
 * the pipeline's redrive count). attempts[k] of a phase is its (k+1)-th launch attempt over the
 * whole run: in the first run that is attempt k+1; a redrive (which starts the phase over at
 * attempt 1) goes on counting from the attempts the earlier runs of the phase were tagged with.
 */
function attemptPlan(account: SimulatedAccount, phase: string, shard: string | undefined, redrive: number, attempt: number): AttemptPlan {
  // A shard counts its own attempts (each shard is its own spot job).
  const key = shard === undefined ? phase : `${phase}/${shard}`;
  const byRedrive = account.attemptsSeen.get(key) ?? new Map<number, number>();
  account.attemptsSeen.set(key, byRedrive);
  byRedrive.set(redrive, Math.max(byRedrive.get(redrive) ?? 0, attempt));
  let before = 0;
  for (const [r, highest] of byRedrive) if (r < redrive) before += highest;
  return account.phasePlan(phase, shard).attempts?.[before + attempt - 1] ?? {};
}

function describe(instance: SimInstance) {
  const state = stateOf(instance);
  return {
    InstanceId: instance.id,
    InstanceType: instance.instanceType,
    SubnetId: instance.subnetId,
    Placement: { AvailabilityZone: instance.availabilityZone },
    SpotInstanceRequestId: instance.spotRequestId,
    // DescribeInstances gives InstanceLifecycle "spot" for a spot instance and none for an on-demand one.
    ...(instance.market === 'spot' ? { InstanceLifecycle: 'spot' } : {}),
    State: { Name: state, Code: state === 'terminated' ? 48 : state === 'running' ? 16 : 0 },
    StateReason: state === 'terminated' && instance.stateReason ? { Code: instance.stateReason, Message: instance.stateReason } : undefined,
    Tags: Object.entries(instance.tags).map(([Key, Value]) => ({ Key, Value })),
    LaunchTime: new Date(instance.launchedAt),
  };
}

// ----- operations ---------------------------------------------------------------------------

export function runInstances(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const token = input.ClientToken as string | undefined;
  if (token && account.clientTokens.has(token)) return { Instances: [describe(account.clientTokens.get(token)!)] };
  const lt = (input.LaunchTemplate ?? {}) as { LaunchTemplateId?: string };
  if (lt.LaunchTemplateId !== account.launchTemplateId) {
    throw new SimulatedAwsError('InvalidLaunchTemplateId.NotFound', `launch template ${lt.LaunchTemplateId} does not exist`);
  }
  // A profile RunInstances names must exist (EC2 API reference, "RunInstances" IamInstanceProfile;
  // an unknown ARN is InvalidParameterValue, "Invalid IAM Instance Profile ARN").
  const profile = (input.IamInstanceProfile as { Arn?: string } | undefined)?.Arn;
  if (profile !== undefined && !account.instanceProfiles.includes(profile)) {
    throw new SimulatedAwsError('InvalidParameterValue', `Value (${profile}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN`);
  }
  const subnetId = String(input.SubnetId);
  const availabilityZone = account.subnetZones.get(subnetId);
  if (!availabilityZone) throw new SimulatedAwsError('InvalidSubnetID.NotFound', `subnet ${subnetId} does not exist`);
  const instanceType = String(input.InstanceType);
  const specs = (input.TagSpecifications ?? []) as { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[];
  const tags = Object.fromEntries((specs.find((s) => s.ResourceType === 'instance')?.Tags ?? []).map((t) => [t.Key!, t.Value!]));
  const phase = tags[TAG.phase] ?? '?';
  const attempt = Number(tags[TAG.attempt] ?? 1);
  const shard = tags[TAG.shard];
  // RunInstances without InstanceMarketOptions launches on-demand (EC2 API reference, "RunInstances":
  // InstanceMarketOptions, "The market (purchasing) option for the instances"; default on-demand).
  const market = (input.InstanceMarketOptions as { MarketType?: string } | undefined)?.MarketType === 'spot' ? 'spot' : 'on-demand';
  const planned = attemptPlan(account, phase, shard, Number(tags[TAG.redrive] ?? 0), attempt);
  // Spot's faults (capacity refusals, reclaims, spot request codes) are spot's: an on-demand launch
  // keeps only what its workload does, and meets the scenario's onDemandUnavailable pools.
  const plan: AttemptPlan = market === 'spot' ? planned : { ...(planned.exitCode === undefined ? {} : { exitCode: planned.exitCode }), ...(planned.hang === undefined ? {} : { hang: planned.hang }) };
  const pool = `${instanceType}/${availabilityZone}`;
  if (market === 'on-demand' && (account.scenario.onDemandUnavailable ?? []).some((p) => poolMatches(p, pool))) {
    account.refusals.push({ execution: tags[TAG.execution] ?? '?', phase, attempt, pool, code: 'InsufficientInstanceCapacity', at: Date.now(), market });
    throw new SimulatedAwsError('InsufficientInstanceCapacity', `We currently do not have sufficient ${instanceType} capacity in the Availability Zone you requested (${availabilityZone}).`);
  }
  if ((plan.unavailable ?? []).some((p) => poolMatches(p, pool))) {
    const code = plan.capacityError ?? 'InsufficientInstanceCapacity';
    account.refusals.push({ execution: tags[TAG.execution] ?? '?', phase, attempt, pool, code, at: Date.now(), market });
    throw new SimulatedAwsError(code, `There is no Spot capacity available that matches your request (${pool}).`);
  }
  const now = Date.now();
  const instance: SimInstance = {
    id: account.nextId('i-0', 16),
    ...(market === 'spot' ? { spotRequestId: account.nextId('sir-', 8) } : {}),
    market,
    instanceType,
    subnetId,
    availabilityZone,
    tags,
    launchedAt: now,
    agentOnlineAt: now + (account.scenario.bootMinutes ?? 2) * MINUTE,
    phase,
    ...(shard === undefined ? {} : { shard }),
    attempt,
    plan,
    instanceProfileArn: profile,
    imageId: typeof input.ImageId === 'string' ? input.ImageId : undefined,
  };
  account.instances.push(instance);
  scheduleInterruptionAfterLaunch(instance);
  if (token) account.clientTokens.set(token, instance);
  return { Instances: [describe(instance)] };
}

export function describeInstances(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const ids = input.InstanceIds as string[] | undefined;
  const filters = (input.Filters ?? []) as Filter[];
  let found = ids && ids.length > 0 ? ids.map((id) => byId(account, id)) : [...account.instances];
  for (const f of filters) {
    const values = f.Values ?? [];
    if (f.Name === 'instance-state-name') found = found.filter((i) => values.includes(stateOf(i)));
    else if (f.Name?.startsWith('tag:')) {
      const key = f.Name.slice(4);
      found = found.filter((i) => i.tags[key] !== undefined && values.includes(i.tags[key]!));
    } else if (f.Name) throw new SimulatedAwsError('InvalidParameterValue', `filter ${f.Name} is not simulated`);
  }
  return { Reservations: found.map((i) => ({ Instances: [describe(i)] })) };
}

export function describeSpotInstanceRequests(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const ids = (input.SpotInstanceRequestIds ?? []) as string[];
  return {
    SpotInstanceRequests: ids.map((id) => {
      const instance = account.instances.find((i) => i.spotRequestId === id);
      if (!instance) throw new SimulatedAwsError('InvalidSpotInstanceRequestID.NotFound', `The spot instance request ID '${id}' does not exist`);
      const code = spotStatusOf(instance);
      return { SpotInstanceRequestId: id, InstanceId: instance.id, State: code === 'fulfilled' ? 'active' : 'closed', Status: { Code: code } };
    }),
  };
}

export function terminateInstances(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const ids = (input.InstanceIds ?? []) as string[];
  const instances = ids.map((id) => byId(account, id));
  const now = Date.now();
  return {
    TerminatingInstances: instances.map((instance) => {
      const previous = stateOf(instance, now);
      if (instance.terminatedAt === undefined) {
        instance.terminatedAt = now;
        instance.terminatedBy = 'pipeline';
        instance.terminatedByHandler = currentCaller();
        instance.stateReason = 'Client.UserInitiatedShutdown';
      }
      return { InstanceId: instance.id, PreviousState: { Name: previous }, CurrentState: { Name: 'terminated' } };
    }),
  };
}

/**
 * DescribeSpotPriceHistory: the price of each pool asked for (InstanceTypes, AvailabilityZone,
 * ProductDescriptions) as the scenario sets it; the simulated prices never change, so one record,
 * dated before StartTime, is "the last price change before the start time, which is the effective
 * price as of the start time" (EC2 API reference, "DescribeSpotPriceHistory"). Prices are strings.
 */
export function describeSpotPriceHistory(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const types = (input.InstanceTypes as string[] | undefined) ?? [];
  const zone = input.AvailabilityZone as string | undefined;
  const zones = zone ? [zone] : [...new Set(account.subnetZones.values())];
  const start = input.StartTime ? new Date(input.StartTime as string | Date).getTime() : Date.now();
  const timestamp = new Date(Math.min(start, Date.now()) - 3_600_000);
  const history = types.flatMap((type) =>
    zones.flatMap((z) => {
      const price = priceOf(account.scenario, `${type}/${z}`, 'spot');
      return price === undefined ? [] : [{ AvailabilityZone: z, InstanceType: type, ProductDescription: 'Linux/UNIX', SpotPrice: price.toFixed(6), Timestamp: timestamp }];
    }),
  );
  return { SpotPriceHistory: history, NextToken: '' };
}
