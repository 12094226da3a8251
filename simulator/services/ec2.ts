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

type TagSpec = { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] };

/** What one launch asks for, whichever API asked (RunInstances, or one pool of an instant fleet). */
interface LaunchAsk {
  readonly templateId: string | undefined;
  readonly instanceType: string;
  readonly subnetId: string;
  /** The request's own profile (RunInstances IamInstanceProfile), over the template's. */
  readonly profile?: string;
  /** The request's own image (RunInstances ImageId), over the template's. */
  readonly imageId?: string;
  readonly tags: Record<string, string>;
  readonly market: 'spot' | 'on-demand';
}

/** The template a launch names, which must exist (EC2 API reference, "Error codes": InvalidLaunchTemplateId.NotFound). */
function templateOf(account: SimulatedAccount, templateId: string | undefined) {
  const template = templateId === undefined ? undefined : account.launchTemplates.get(templateId);
  if (!template) throw new SimulatedAwsError('InvalidLaunchTemplateId.NotFound', `launch template ${templateId} does not exist`);
  return template;
}

/**
 * Where the launch would land and what it carries, checked as EC2 checks a request (unknown profile
 * or subnet), and the plan of its attempt; undefined fields are the template's.
 */
function prepareLaunch(account: SimulatedAccount, ask: LaunchAsk) {
  const template = templateOf(account, ask.templateId);
  // A profile a launch names must exist (EC2 API reference, "RunInstances" IamInstanceProfile;
  // an unknown ARN is InvalidParameterValue, "Invalid IAM Instance Profile ARN").
  const profile = ask.profile ?? template.instanceProfileArn;
  if (ask.profile !== undefined && !account.instanceProfiles.includes(ask.profile)) {
    throw new SimulatedAwsError('InvalidParameterValue', `Value (${ask.profile}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN`);
  }
  const availabilityZone = account.subnetZones.get(ask.subnetId);
  if (!availabilityZone) throw new SimulatedAwsError('InvalidSubnetID.NotFound', `subnet ${ask.subnetId} does not exist`);
  const phase = ask.tags[TAG.phase] ?? '?';
  const attempt = Number(ask.tags[TAG.attempt] ?? 1);
  const shard = ask.tags[TAG.shard];
  const planned = attemptPlan(account, phase, shard, Number(ask.tags[TAG.redrive] ?? 0), attempt);
  // Spot's faults (capacity refusals, reclaims, spot request codes) are spot's: an on-demand launch
  // keeps only what its workload does, and meets the scenario's onDemandUnavailable pools.
  const plan: AttemptPlan =
    ask.market === 'spot' ? planned : { ...(planned.exitCode === undefined ? {} : { exitCode: planned.exitCode }), ...(planned.hang === undefined ? {} : { hang: planned.hang }) };
  const pool = `${ask.instanceType}/${availabilityZone}`;
  // The capacity error this pool answers now, if any.
  let refusal: { code: string; message: string } | undefined;
  if (ask.market === 'on-demand' && (account.scenario.onDemandUnavailable ?? []).some((p) => poolMatches(p, pool))) {
    refusal = { code: 'InsufficientInstanceCapacity', message: `We currently do not have sufficient ${ask.instanceType} capacity in the Availability Zone you requested (${availabilityZone}).` };
  } else if ((plan.unavailable ?? []).some((p) => poolMatches(p, pool))) {
    refusal = { code: plan.capacityError ?? 'InsufficientInstanceCapacity', message: `There is no Spot capacity available that matches your request (${pool}).` };
  }
  return { ask, phase, attempt, shard, plan, pool, availabilityZone, profile, imageId: ask.imageId ?? template.imageId, refusal };
}

type PreparedLaunch = ReturnType<typeof prepareLaunch>;

function refuse(account: SimulatedAccount, launch: PreparedLaunch): void {
  const { ask, phase, attempt, pool, refusal } = launch;
  account.refusals.push({ execution: ask.tags[TAG.execution] ?? '?', phase, attempt, pool, code: refusal!.code, at: Date.now(), market: ask.market });
}

function startInstance(account: SimulatedAccount, launch: PreparedLaunch): SimInstance {
  const { ask, phase, attempt, shard, plan, availabilityZone } = launch;
  const now = Date.now();
  const instance: SimInstance = {
    id: account.nextId('i-0', 16),
    ...(ask.market === 'spot' ? { spotRequestId: account.nextId('sir-', 8) } : {}),
    market: ask.market,
    instanceType: ask.instanceType,
    subnetId: ask.subnetId,
    availabilityZone,
    tags: ask.tags,
    launchedAt: now,
    agentOnlineAt: now + (account.scenario.bootMinutes ?? 2) * MINUTE,
    phase,
    ...(shard === undefined ? {} : { shard }),
    attempt,
    plan,
    instanceProfileArn: launch.profile,
    imageId: launch.imageId,
  };
  account.instances.push(instance);
  scheduleInterruptionAfterLaunch(instance);
  return instance;
}

const tagsOf = (specs: readonly TagSpec[], type: string) => Object.fromEntries((specs.find((s) => s.ResourceType === type)?.Tags ?? []).map((t) => [t.Key!, t.Value!]));

export function runInstances(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const token = input.ClientToken as string | undefined;
  if (token && account.clientTokens.has(token)) return { Instances: [describe(account.clientTokens.get(token)!)] };
  const launch = prepareLaunch(account, {
    templateId: (input.LaunchTemplate as { LaunchTemplateId?: string } | undefined)?.LaunchTemplateId,
    instanceType: String(input.InstanceType),
    subnetId: String(input.SubnetId),
    profile: (input.IamInstanceProfile as { Arn?: string } | undefined)?.Arn,
    imageId: typeof input.ImageId === 'string' ? input.ImageId : undefined,
    tags: tagsOf((input.TagSpecifications ?? []) as TagSpec[], 'instance'),
    // RunInstances without InstanceMarketOptions launches on-demand (EC2 API reference, "RunInstances":
    // InstanceMarketOptions, "The market (purchasing) option for the instances"; default on-demand).
    market: (input.InstanceMarketOptions as { MarketType?: string } | undefined)?.MarketType === 'spot' ? 'spot' : 'on-demand',
  });
  if (launch.refusal) {
    refuse(account, launch);
    throw new SimulatedAwsError(launch.refusal.code, launch.refusal.message);
  }
  const instance = startInstance(account, launch);
  if (token) account.clientTokens.set(token, instance);
  return { Instances: [describe(instance)] };
}

/**
 * CreateFleet, type instant (the only type simulated), for a target capacity of one instance
 * (EC2 API reference, "CreateFleet"; EC2 user guide, "EC2 Fleet request types": an instant fleet
 * "places a synchronous one-time request for your desired capacity" and answers with the instances
 * launched and the errors of those it could not launch, HTTP 200 either way).
 * - The market is DefaultTargetCapacityType (spot | on-demand).
 * - Allocation: price-capacity-optimized for spot ("identifies the pools with the highest capacity
 *   availability ... then requests Spot Instances from the lowest priced of these pools": EC2 user
 *   guide, "Allocation strategies for Spot Instances"), lowest-price for on-demand. The simulated
 *   capacity is all or nothing per pool (the scenario's unavailable pools have none), so among the
 *   pools with capacity the cheapest (the scenario's prices) launches, the first listed on a tie.
 *   Nothing else of the scenario (which pools it will reclaim later) is known to the choice.
 * - No pool with capacity: no instance; one entry in Errors per pool asked, with the pool's
 *   capacity error code and its LaunchTemplateAndOverrides and Lifecycle (as "CreateFleetError").
 * - Tags: an instant fleet tags the fleet and the instances (TagSpecifications, ResourceType
 *   fleet | instance); volumes and spot requests get the launch template's.
 * - The same ClientToken answers what the first call answered and launches nothing ("Ensuring
 *   idempotency in Amazon EC2 API requests").
 */
export function createFleet(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const token = input.ClientToken as string | undefined;
  if (token && account.fleetAnswers.has(token)) return structuredClone(account.fleetAnswers.get(token));
  if (input.Type !== 'instant') throw new SimulatedAwsError('InvalidParameterValue', `fleet type ${String(input.Type)} is not simulated (only instant)`);
  const target = (input.TargetCapacitySpecification ?? {}) as { TotalTargetCapacity?: number; DefaultTargetCapacityType?: string };
  if (target.TotalTargetCapacity !== 1) throw new SimulatedAwsError('InvalidParameterValue', `TotalTargetCapacity ${String(target.TotalTargetCapacity)} is not simulated (only 1)`);
  const market = target.DefaultTargetCapacityType === 'on-demand' ? 'on-demand' : 'spot';
  const specs = (input.TagSpecifications ?? []) as TagSpec[];
  const tags = tagsOf(specs, 'instance');
  const configs = (input.LaunchTemplateConfigs ?? []) as { LaunchTemplateSpecification?: { LaunchTemplateId?: string; Version?: string }; Overrides?: { InstanceType?: string; SubnetId?: string }[] }[];
  const launches = configs.flatMap((c) => {
    templateOf(account, c.LaunchTemplateSpecification?.LaunchTemplateId);
    return (c.Overrides ?? []).map((o) => ({
      spec: { LaunchTemplateSpecification: c.LaunchTemplateSpecification, Overrides: o },
      launch: prepareLaunch(account, { templateId: c.LaunchTemplateSpecification?.LaunchTemplateId, instanceType: String(o.InstanceType), subnetId: String(o.SubnetId), tags, market }),
    }));
  });
  if (launches.length === 0) throw new SimulatedAwsError('InvalidParameterValue', 'LaunchTemplateConfigs names no launch template overrides');
  const lifecycle = market === 'spot' ? 'spot' : 'on-demand';
  const fleetId = `fleet-${account.nextId('', 8)}-0000-0000-0000-000000000000`;
  const open = launches.filter((l) => !l.launch.refusal);
  const price = (l: (typeof launches)[number]) => priceOf(account.scenario, l.launch.pool, market) ?? Infinity;
  const chosen = open.reduce<(typeof launches)[number] | undefined>((best, l) => (best === undefined || price(l) < price(best) ? l : best), undefined);
  let answer: unknown;
  if (chosen) {
    const instance = startInstance(account, chosen.launch);
    answer = { FleetId: fleetId, Errors: [], Instances: [{ LaunchTemplateAndOverrides: chosen.spec, Lifecycle: lifecycle, InstanceIds: [instance.id], InstanceType: instance.instanceType }] };
  } else {
    for (const l of launches) refuse(account, l.launch);
    answer = {
      FleetId: fleetId,
      Errors: launches.map((l) => ({ LaunchTemplateAndOverrides: l.spec, Lifecycle: lifecycle, ErrorCode: l.launch.refusal!.code, ErrorMessage: l.launch.refusal!.message })),
      Instances: [],
    };
  }
  if (token) account.fleetAnswers.set(token, structuredClone(answer));
  return answer;
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
