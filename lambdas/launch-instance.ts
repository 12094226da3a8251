/**
 * LaunchInstance: start this attempt's one instance. By default with one CreateFleet call (type
 * instant, price-capacity-optimized over every allowed pool, from the phase's own launch template:
 * decisions/fleet.ts reads its answer), a second one over the pools with recent trouble only if the
 * first found no capacity; the pool spot just reclaimed is left out. With `allocation: rotation`, by
 * RunInstances pool by pool (instance type x subnet), the pools with recent trouble last (the pool memory).
 * Spot, unless the phase's on-demand fallback says otherwise (decisions/market.ts): a failure may
 * have decided the attempt runs on-demand, a first attempt that is the only affordable one starts
 * on-demand, and when every spot pool refuses the same attempt asks on-demand. Exhausting every
 * pool is a result (an interruption the phase may relaunch from), not a crash.
 */
import { createHash } from 'node:crypto';
import { CreateFleetCommand, EC2Client, RunInstancesCommand, type Tag } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { affordableAttempts } from '../contract/budget';
import { onDemandFallbackOf } from '../contract/phase-config';
import { launchEnvSchema, type LaunchEnv } from '../contract/environment';
import { LaunchFailed, TransientApiError } from '../contract/errors';
import type { InstanceRef, Job, PhaseTaskInputIn } from '../contract/job';
import { TAG } from '../contract/tags';
import { launched, launchTooLate, noCapacity, outOfTime, quotaReached } from '../decisions/attempt';
import { isCapacityError, quotaOf } from '../decisions/classify';
import { firstMarket, type FallbackTrigger, type Market } from '../decisions/market';
import { phaseDeadline, readCallsUntil } from '../decisions/phase-clock';
import { fleetCalls, readFleetAnswer, type FleetRefusal } from '../decisions/fleet';
import { firstPoolCursor, poolOrder, poolsFrom, rememberedOrder, troubledPools, widenToSecondary, type Pool } from '../decisions/pools';
import { launchFallbackData } from '../decisions/relaunch';
import { errorCode, isTransient, retryableUntil } from './aws/aws-errors';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send, type S3Send, type SfnSend } from './aws/clients';
import { describeLaunched, findExecutionInstances, terminate } from './aws/instances';
import { recentPoolEvents, recordPoolEvent } from './aws/pool-memory';
import { readEnv } from './runtime/environment';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);
const sfn = new SFNClient(CLIENT_CONFIG);
const s3 = new S3Client(CLIENT_CONFIG);


/**
 * Look after acting: the phase execution may have been stopped (an abort, a sibling's failure, a
 * timeout) while RunInstances was in flight, and its cleanup may already have run without this
 * instance. If the execution no longer runs, the instance goes now. (If it stops after this look,
 * its cleanup finds the instance.) A status that cannot be read leaves it to the cleanup rule and
 * the reaper.
 */
async function terminateIfExecutionStopped(clients: { ec2: Ec2Send; sfn: SfnSend }, executionArn: string, instanceId: string): Promise<void> {
  let status: string | undefined;
  try {
    status = (await clients.sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
  } catch (err) {
    logger.warn('could not check that the execution still runs; its cleanup rule will', { executionArn, error: errorCode(err) });
    return;
  }
  if (status === undefined || status === 'RUNNING') return;
  logger.warn('the execution stopped while the instance launched: terminating it', { executionArn, status, instanceId });
  await terminate(clients.ec2, [instanceId]);
}

/** Same execution, phase, attempt and pool: same token, so a retried call cannot start a second instance. */
export function clientToken(executionId: string, phase: string, attempt: number, poolIndex: number, market: Market = 'spot'): string {
  return createHash('sha256').update(`${executionId}|${phase}|${attempt}|${poolIndex}${market === 'on-demand' ? '|on-demand' : ''}`).digest('hex').slice(0, 64);
}

/**
 * One fleet call of an attempt: by the pools it asks and its market, so a retried call cannot start a
 * second instance, and a call over other pools (the troubled ones, the secondary types) is a call of its own.
 */
export function fleetClientToken(executionId: string, phase: string, attempt: number, poolsAsked: readonly number[], market: Market): string {
  return createHash('sha256').update(`${executionId}|${phase}|${attempt}|fleet|${[...poolsAsked].sort((a, b) => a - b).join(',')}|${market}`).digest('hex').slice(0, 64);
}

function instanceTags(input: PhaseTaskInputIn<'launching'>, market: Market): Tag[] {
  const { phase, run, execution, job, redriveCount } = input;
  return [
    { Key: 'Name', Value: `${phase.pipelineName}-${phase.name}${phase.shard ? `-${phase.shard.name}` : ''}-attempt-${job.attempt}` },
    { Key: TAG.pipeline, Value: phase.pipelineName },
    { Key: TAG.execution, Value: execution.id },
    { Key: TAG.run, Value: run.pipelineExecutionArn },
    { Key: TAG.phase, Value: phase.name },
    { Key: TAG.attempt, Value: String(job.attempt) },
    { Key: TAG.redrive, Value: String(redriveCount) },
    { Key: TAG.market, Value: market },
    ...(phase.shard ? [{ Key: TAG.shard, Value: phase.shard.name }] : []),
  ];
}

interface Launched {
  readonly instanceId: string;
  readonly availabilityZone: string;
  readonly spotRequestId?: string;
}

async function runInstance(client: Ec2Send, env: LaunchEnv, input: PhaseTaskInputIn<'launching'>, pool: Pool, poolIndex: number, market: Market): Promise<Launched> {
  const tags = instanceTags(input, market);
  // Spot, unless the attempt falls back to on-demand (decisions/market.ts): then no market options,
  // and no spot request to tag.
  const onDemand = market === 'on-demand';
  const out = await client.send(
    new RunInstancesCommand({
      LaunchTemplate: { LaunchTemplateId: env.LAUNCH_TEMPLATE_ID, Version: env.LAUNCH_TEMPLATE_VERSION },
      InstanceType: pool.instanceType as never,
      SubnetId: pool.subnetId,
      // The phase's own role (its data and secrets); RunInstances' parameters override the template's.
      ...(input.phase.instanceProfileArn ? { IamInstanceProfile: { Arn: input.phase.instanceProfileArn } } : {}),
      // The phase's launch profile: its image (an AMI id, or "resolve:ssm:<parameter>", which EC2
      // resolves at launch: EC2 user guide, "Use a Systems Manager parameter instead of an AMI ID")
      // and its root volume, as the template's (encrypted gp3, deleted on termination).
      ...(input.phase.launch ? { ImageId: input.phase.launch.imageId } : {}),
      ...(input.phase.launch?.rootVolumeGiB
        ? {
            BlockDeviceMappings: [
              { DeviceName: input.phase.launch.rootDeviceName, Ebs: { VolumeSize: input.phase.launch.rootVolumeGiB, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } },
            ],
          }
        : {}),
      MinCount: 1,
      MaxCount: 1,
      // (An on-demand try of the same pool in the same attempt is another request: its own token.)
      ClientToken: clientToken(input.execution.id, input.phase.name, input.job.attempt, poolIndex, market),
      ...(onDemand
        ? {}
        : {
            InstanceMarketOptions: {
              MarketType: 'spot',
              SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
            },
          }),
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
        ...(onDemand ? [] : [{ ResourceType: 'spot-instances-request' as const, Tags: tags }]),
      ],
    }),
  );
  const instance = out.Instances?.[0];
  if (!instance?.InstanceId) throw new LaunchFailed(`RunInstances in ${pool.instanceType}/${pool.subnetId} returned no instance`);
  return {
    instanceId: instance.InstanceId,
    availabilityZone: instance.Placement?.AvailabilityZone ?? pool.subnetId,
    spotRequestId: instance.SpotInstanceRequestId,
  };
}

/**
 * One instant fleet of one instance over these pools, in one market: spot with price-capacity-
 * optimized allocation ("launches from the lowest-priced pools that have the highest capacity
 * availability": EC2 user guide, "Allocation strategies for Spot Instances"), or on-demand at the
 * lowest price. The phase's launch template carries its profile, image and root volume; the
 * overrides, the pools. Tags on the fleet and the instance (an instant fleet tags those two; the
 * template tags volumes and spot requests).
 */
function fleetRequest(input: PhaseTaskInputIn<'launching'>, template: { id: string; version: string }, pools: readonly Pool[], market: Market, token: string) {
  const tags = instanceTags(input, market);
  const spot = market === 'spot';
  return new CreateFleetCommand({
    Type: 'instant',
    ClientToken: token,
    TargetCapacitySpecification: {
      TotalTargetCapacity: 1,
      SpotTargetCapacity: spot ? 1 : 0,
      OnDemandTargetCapacity: spot ? 0 : 1,
      DefaultTargetCapacityType: spot ? 'spot' : 'on-demand',
    },
    ...(spot
      ? { SpotOptions: { AllocationStrategy: 'price-capacity-optimized', InstanceInterruptionBehavior: 'terminate' } }
      : { OnDemandOptions: { AllocationStrategy: 'lowest-price' } }),
    LaunchTemplateConfigs: [
      {
        LaunchTemplateSpecification: { LaunchTemplateId: template.id, Version: template.version },
        Overrides: pools.map((p) => ({ InstanceType: p.instanceType as never, SubnetId: p.subnetId })),
      },
    ],
    TagSpecifications: [
      { ResourceType: 'fleet', Tags: tags },
      { ResourceType: 'instance', Tags: tags },
    ],
  });
}

export async function launchAttempt(clients: { ec2: Ec2Send; sfn: SfnSend; s3?: S3Send }, env: LaunchEnv, input: PhaseTaskInputIn<'launching'>): Promise<Job> {
  const client = clients.ec2;
  const { phase, execution, job } = input;
  const t = { nowMs: Date.now(), deadlineMs: phaseDeadline(execution, phase) };
  const tooLate = launchTooLate(job, t);
  if (tooLate) return tooLate;
  // The phase's pools, its secondary instance types' after them (their indexes never move the primary ones').
  const primaryCount = phase.instanceTypes.length * phase.subnetIds.length;
  const pools = [...poolOrder(phase.instanceTypes, phase.subnetIds), ...poolOrder(phase.secondaryInstanceTypes ?? [], phase.subnetIds)];

  // The market: the one a failure decided; else on-demand for a first attempt that is the phase's
  // only affordable one (its fallback's lastAttempt trigger); else spot.
  const fallback = onDemandFallbackOf(phase);
  const onlyAttempt = job.attempt === 1 && (phase.maxAttempts === 1 || affordableAttempts(phase, phase.cleanupMarginSeconds) <= 1);
  const first = job.market ? { market: job.market } : firstMarket(fallback, onlyAttempt);

  // Describe before launching: a retried task adopts the instance its first try started (in the
  // market its tag says: the first try may have fallen back to on-demand, and its datum is still due).
  const [existing] = await findExecutionInstances(client, execution.id, job.attempt);
  if (existing) {
    const market: Market = existing.tags?.[TAG.market] === 'on-demand' ? 'on-demand' : 'spot';
    const trigger = market === 'on-demand' && job.market !== 'on-demand' ? (first.trigger ?? 'capacity-exhausted') : undefined;
    const poolIndex = Math.max(0, pools.findIndex((p) => p.instanceType === existing.instanceType && p.subnetId === existing.subnetId));
    logger.warn('adopting the instance this attempt already launched', { instanceId: existing.id, attempt: job.attempt });
    await terminateIfExecutionStopped(clients, execution.id, existing.id);
    const instance: InstanceRef = {
      id: existing.id,
      instanceType: existing.instanceType ?? pools[poolIndex]!.instanceType,
      subnetId: existing.subnetId ?? pools[poolIndex]!.subnetId,
      availabilityZone: existing.availabilityZone ?? 'unknown',
      spotRequestId: existing.spotRequestId,
      poolIndex,
      ...(market === 'on-demand' ? { market } : {}),
      // Its boot started when it launched, not now.
      launchedAt: existing.launchedAt ?? new Date(t.nowMs).toISOString(),
    };
    return launched(phase, job, instance, t, trigger ? { trigger, metricData: launchFallbackData(phase, trigger) } : undefined);
  }

  const refusals: string[] = [];
  const shard = phase.shard ? { index: phase.shard.index, instanceTypes: phase.instanceTypes, subnetIds: phase.subnetIds } : undefined;
  // The rotation's order, with the pools that reclaimed or refused lately (this run's and the last
  // week's, from the pool memory) moved last, the most recent last of all.
  const memory = clients.s3 ? await recentPoolEvents(clients.s3, env.PIPELINE_BUCKET, phase.pipelineName, t.nowMs) : [];
  const remembered = (indices: number[]) => rememberedOrder(indices, pools, memory, t.nowMs);
  const primaryOrder = remembered(poolsFrom(firstPoolCursor(job.poolCursor, job.attempt, shard), primaryCount));
  const secondaryOrder = remembered(pools.map((_, i) => i).filter((i) => i >= primaryCount));
  // As slack shrinks, the secondary types join the first ask (decisions/pools.ts, widenToSecondary).
  const widen = secondaryOrder.length > 0 && widenToSecondary(phase, t);
  let order = widen ? [...primaryOrder, ...secondaryOrder] : primaryOrder;


  /** Ask each pool in turn in one market: the booting job of the first that launches, or undefined when all refuse capacity. */
  const tryPools = async (market: Market, trigger: FallbackTrigger | undefined): Promise<Job | undefined> => {
    for (const poolIndex of order) {
      const pool = pools[poolIndex]!;
      try {
        const out = await runInstance(client, env, input, pool, poolIndex, market);
        return await launchedIn(market, trigger, poolIndex, out);
      } catch (err) {
        const code = errorCode(err);
        const quota = quotaOf(code);
        if (quota) {
          logger.error('an account quota refused the launch', { phase: phase.name, attempt: job.attempt, ...pool, code, quota });
          return quotaReached(job, `${pool.instanceType}/${pool.subnetId}`, code!, quota, t);
        }
        if (isCapacityError(code)) {
          logger.info(`no ${market} capacity in pool, rotating`, { phase: phase.name, attempt: job.attempt, ...pool, code });
          await refused(market, { pool, code: code!, message: (err as Error).message }, `${execution.id}|${job.attempt}|${poolIndex}`);
          continue;
        }
        if (isTransient(err)) throw new TransientApiError(`RunInstances: ${code}: ${(err as Error).message}`, { cause: err });
        throw new LaunchFailed(`RunInstances in ${pool.instanceType}/${pool.subnetId} failed: ${code ?? 'error'}: ${(err as Error).message}`, { cause: err });
      }
    }
    return undefined;
  };

  const launchedIn = async (market: Market, trigger: FallbackTrigger | undefined, poolIndex: number, out: Launched): Promise<Job> => {
    const pool = pools[poolIndex]!;
    logger.info(`${market} instance launched`, { phase: phase.name, attempt: job.attempt, ...pool, ...out });
    await terminateIfExecutionStopped(clients, execution.id, out.instanceId);
    const instance: InstanceRef = {
      id: out.instanceId,
      instanceType: pool.instanceType,
      subnetId: pool.subnetId,
      availabilityZone: out.availabilityZone,
      spotRequestId: out.spotRequestId,
      poolIndex,
      launchedAt: new Date(t.nowMs).toISOString(),
      ...(market === 'on-demand' ? { market } : {}),
    };
    return launched(phase, { ...job, ...(market === 'on-demand' ? { market } : {}) }, instance, t, trigger ? { trigger, metricData: launchFallbackData(phase, trigger) } : undefined);
  };

  const refused = async (market: Market, refusal: FleetRefusal & { pool: Pool }, key: string) => {
    refusals.push(`${refusal.pool.instanceType}/${refusal.pool.subnetId}${market === 'on-demand' ? ' (on-demand)' : ''}: ${refusal.code}`);
    if (clients.s3 && market === 'spot') await recordPoolEvent(clients.s3, env.PIPELINE_BUCKET, phase.pipelineName, { ...refusal.pool, atMs: Date.now(), kind: 'refused' }, key);
  };

  /** Ask EC2 Fleet in one market: one call over the pools without recent trouble, a second over the others if the first found no capacity. */
  const tryFleet = async (template: { id: string; version: string }, market: Market, trigger: FallbackTrigger | undefined): Promise<Job | undefined> => {
    const troubled = troubledPools(pools, memory, t.nowMs);
    for (const [k, call] of fleetCalls(order, troubled, job.verdict?.leavePool).entries()) {
      const asked = call.map((i) => pools[i]!);
      let answer;
      try {
        answer = readFleetAnswer(await client.send(fleetRequest(input, template, asked, market, fleetClientToken(execution.id, phase.name, job.attempt, call, market))), asked);
      } catch (err) {
        const code = errorCode(err);
        const message = (err as Error).message;
        if (isTransient(err)) throw new TransientApiError(`CreateFleet: ${code}: ${message}`, { cause: err });
        // A call refused whole (not in its Errors): the same reading as an entry of Errors naming no pool.
        answer = readFleetAnswer({ Errors: [{ ErrorCode: code ?? 'error', ErrorMessage: message }] }, asked);
        if (answer.kind === 'no-capacity') answer = { kind: 'no-capacity' as const, refusals: asked.map((pool) => ({ pool, code: code ?? 'error', message })) };
      }
      for (const r of answer.kind === 'launched' || answer.kind === 'no-capacity' ? answer.refusals : []) {
        if (r.pool) await refused(market, { ...r, pool: r.pool }, `${execution.id}|${job.attempt}|${pools.indexOf(r.pool)}`);
        else refusals.push(`the fleet (${market}): ${r.code}`);
      }
      if (answer.kind === 'launched') {
        const poolIndex = pools.indexOf(answer.pool);
        const seen = await describeLaunched(client, answer.instanceId);
        return launchedIn(market, trigger, poolIndex, { instanceId: answer.instanceId, availabilityZone: seen?.availabilityZone ?? 'unknown', spotRequestId: seen?.spotRequestId });
      }
      if (answer.kind === 'quota') {
        logger.error('an account quota refused the launch', { phase: phase.name, attempt: job.attempt, code: answer.code, quota: answer.quota });
        return quotaReached(job, answer.where, answer.code, answer.quota, t);
      }
      if (answer.kind === 'setup') {
        logger.error('the fleet launch failed: a setup problem, not capacity', { phase: phase.name, attempt: job.attempt, code: answer.code });
        throw new LaunchFailed(`CreateFleet: ${answer.message}`);
      }
      logger.info(`no ${market} capacity in the fleet's pools`, { phase: phase.name, attempt: job.attempt, call: k, pools: asked.length });
    }
    return undefined;
  };

  const template = phase.allocation === 'price-capacity-optimized' ? phase.launchTemplate : undefined;
  const tryMarket = (market: Market, trigger: FallbackTrigger | undefined) => (template ? tryFleet(template, market, trigger) : tryPools(market, trigger));

  const done = await tryMarket(first.market, first.trigger);
  if (done) return done;
  // Every pool of its own types refused: the secondary types, in the same market, before any fallback to on-demand.
  if (!widen && secondaryOrder.length > 0) {
    logger.warn('no capacity in the instance types\' pools: asking the secondary types', { phase: phase.name, attempt: job.attempt, secondary: phase.secondaryInstanceTypes });
    order = secondaryOrder;
    const secondary = await tryMarket(first.market, first.trigger);
    if (secondary) return secondary;
    order = [...primaryOrder, ...secondaryOrder];
  }
  // Spot refused in every pool: a phase that falls back when capacity is exhausted asks on-demand now, in this attempt.
  if (first.market === 'spot' && fallback?.whenCapacityExhausted) {
    logger.warn('no spot capacity in any pool: falling back to on-demand in this attempt', { phase: phase.name, attempt: job.attempt });
    const onDemand = await tryMarket('on-demand', 'capacity-exhausted');
    if (onDemand) return onDemand;
    logger.warn('no on-demand capacity either', { phase: phase.name, attempt: job.attempt, refusals });
    return noCapacity({ ...job, market: 'on-demand' }, refusals, t);
  }
  logger.warn('every capacity pool refused the launch', { phase: phase.name, attempt: job.attempt, refusals });
  return noCapacity({ ...job, ...(first.market === 'on-demand' ? { market: 'on-demand' as const } : {}) }, refusals, t);
}

export async function handler(event: unknown): Promise<Job> {
  const input = parsePhaseTask(event, 'LaunchInstance', ['launching']);
  const env = readEnv(launchEnvSchema);
  const deadlineMs = phaseDeadline(input.execution, input.phase);
  return withCallsUntil({ ec2, sfn, s3 }, readCallsUntil(input.execution, input.phase), (c) =>
    retryableUntil(deadlineMs, () => launchAttempt(c, env, input), () => outOfTime(input.job, 'the launch', { nowMs: Date.now(), deadlineMs })),
  );
}
