/**
 * LaunchInstance: start this attempt's one instance from the stack's launch template, rotating
 * instance type x subnet on capacity errors, the pools with recent trouble last (the pool memory).
 * Spot, unless the phase's on-demand fallback says otherwise (decisions/market.ts): a failure may
 * have decided the attempt runs on-demand, a first attempt that is the only affordable one starts
 * on-demand, and when every spot pool refuses the same attempt asks on-demand. Exhausting every
 * pool is a result (an interruption the phase may relaunch from), not a crash.
 */
import { createHash } from 'node:crypto';
import { EC2Client, RunInstancesCommand, type Tag } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { affordableAttempts } from '../contract/budget';
import { onDemandFallbackOf } from '../contract/config';
import { launchEnvSchema, type LaunchEnv } from '../contract/environment';
import { LaunchFailed, TransientApiError } from '../contract/errors';
import type { InstanceRef, Job, PhaseTaskInputIn } from '../contract/job';
import { TAG } from '../contract/tags';
import { launched, launchTooLate, noCapacity, outOfTime, quotaReached } from '../decisions/attempt';
import { isCapacityError, quotaOf } from '../decisions/classify';
import { firstMarket, type FallbackTrigger, type Market } from '../decisions/market';
import { phaseDeadline, readCallsUntil } from '../decisions/phase-clock';
import { firstPoolCursor, poolOrder, poolsFrom, rememberedOrder, type Pool } from '../decisions/pools';
import { launchFallbackData } from '../decisions/relaunch';
import { errorCode, isTransient, retryableUntil } from './aws/aws-errors';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send, type S3Send, type SfnSend } from './aws/clients';
import { findExecutionInstances, terminate } from './aws/instances';
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

export async function launchAttempt(clients: { ec2: Ec2Send; sfn: SfnSend; s3?: S3Send }, env: LaunchEnv, input: PhaseTaskInputIn<'launching'>): Promise<Job> {
  const client = clients.ec2;
  const { phase, execution, job } = input;
  const t = { nowMs: Date.now(), deadlineMs: phaseDeadline(execution, phase) };
  const tooLate = launchTooLate(job, t);
  if (tooLate) return tooLate;
  const pools = poolOrder(phase.instanceTypes, phase.subnetIds);

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
  const order = rememberedOrder(poolsFrom(firstPoolCursor(job.poolCursor, job.attempt, shard), pools.length), pools, memory, t.nowMs);


  /** Ask each pool in turn in one market: the booting job of the first that launches, or undefined when all refuse capacity. */
  const tryPools = async (market: Market, trigger: FallbackTrigger | undefined): Promise<Job | undefined> => {
    for (const poolIndex of order) {
      const pool = pools[poolIndex]!;
      try {
        const out = await runInstance(client, env, input, pool, poolIndex, market);
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
      } catch (err) {
        const code = errorCode(err);
        const quota = quotaOf(code);
        if (quota) {
          logger.error('an account quota refused the launch', { phase: phase.name, attempt: job.attempt, ...pool, code, quota });
          return quotaReached(job, `${pool.instanceType}/${pool.subnetId}`, code!, quota, t);
        }
        if (isCapacityError(code)) {
          logger.info(`no ${market} capacity in pool, rotating`, { phase: phase.name, attempt: job.attempt, ...pool, code });
          refusals.push(`${pool.instanceType}/${pool.subnetId}${market === 'on-demand' ? ' (on-demand)' : ''}: ${code}`);
          if (clients.s3 && market === 'spot') await recordPoolEvent(clients.s3, env.PIPELINE_BUCKET, phase.pipelineName, { ...pool, atMs: Date.now(), kind: 'refused' }, `${execution.id}|${job.attempt}|${poolIndex}`);
          continue;
        }
        if (isTransient(err)) throw new TransientApiError(`RunInstances: ${code}: ${(err as Error).message}`, { cause: err });
        throw new LaunchFailed(`RunInstances in ${pool.instanceType}/${pool.subnetId} failed: ${code ?? 'error'}: ${(err as Error).message}`, { cause: err });
      }
    }
    return undefined;
  };

  const done = await tryPools(first.market, first.trigger);
  if (done) return done;
  // Spot refused in every pool: a phase that falls back when capacity is exhausted asks on-demand now, in this attempt.
  if (first.market === 'spot' && fallback?.whenCapacityExhausted) {
    logger.warn('no spot capacity in any pool: falling back to on-demand in this attempt', { phase: phase.name, attempt: job.attempt });
    const onDemand = await tryPools('on-demand', 'capacity-exhausted');
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
