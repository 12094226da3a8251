/** EC2 calls about the pipeline's instances: what EC2 says of one attempt's instance and spot request, finding instances by tag, terminating them. */
import { DescribeInstancesCommand, DescribeSpotInstanceRequestsCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import type { AttemptSignals } from '../../decisions/classify';
import { errorCode, isTransient } from './aws-errors';
import { logger } from '../runtime/logger';
import type { Ec2Send } from './clients';
import { TAG } from '../../contract/tags';

export interface InstanceStatus extends Pick<AttemptSignals, 'instanceState' | 'stateReasonCode' | 'spotStatusCode'> {
  readonly spotRequestId?: string;
}

/** EC2 is eventually consistent: a just-launched instance may be "not found" for a short while. */
export const NOT_FOUND_GRACE_SECONDS = 300;

export async function readInstanceStatus(
  ec2: Ec2Send,
  instanceId: string,
  knownSpotRequestId?: string,
  launchedAt?: string,
): Promise<InstanceStatus> {
  let instanceState: string | undefined;
  let stateReasonCode: string | undefined;
  let spotRequestId = knownSpotRequestId;
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const instance = out.Reservations?.[0]?.Instances?.[0];
    instanceState = instance?.State?.Name;
    stateReasonCode = instance?.StateReason?.Code;
    spotRequestId = instance?.SpotInstanceRequestId ?? spotRequestId;
  } catch (err) {
    // An instance EC2 no longer knows is gone, unless it is young enough to be not known yet;
    // anything else (throttling) is the caller's to handle.
    if (errorCode(err) !== 'InvalidInstanceID.NotFound') throw err;
    const youngSeconds = launchedAt ? (Date.now() - Date.parse(launchedAt)) / 1000 : Infinity;
    instanceState = youngSeconds < NOT_FOUND_GRACE_SECONDS ? undefined : 'terminated';
  }
  let spotStatusCode: string | undefined;
  if (spotRequestId) {
    try {
      const out = await ec2.send(new DescribeSpotInstanceRequestsCommand({ SpotInstanceRequestIds: [spotRequestId] }));
      spotStatusCode = out.SpotInstanceRequests?.[0]?.Status?.Code;
    } catch (err) {
      if (errorCode(err) !== 'InvalidSpotInstanceRequestID.NotFound') throw err;
    }
  }
  return { instanceState, stateReasonCode, spotStatusCode, spotRequestId };
}

/** Every state but terminated and shutting-down: an instance that still costs or may still run. */
export const ALIVE = ['pending', 'running', 'stopping', 'stopped'];

export interface ExistingInstance {
  readonly id: string;
  readonly instanceType?: string;
  readonly subnetId?: string;
  readonly availabilityZone?: string;
  readonly spotRequestId?: string;
  readonly launchedAt?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** Instances not terminated yet whose tags match every given key/value. */
export async function findTaggedInstances(ec2: Ec2Send, tags: Readonly<Record<string, string>>, states: readonly string[] = ALIVE): Promise<ExistingInstance[]> {
  const filters = [
    ...Object.entries(tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] })),
    { Name: 'instance-state-name', Values: [...states] },
  ];
  const found: ExistingInstance[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeInstancesCommand({ Filters: filters, NextToken }));
    for (const r of out.Reservations ?? []) {
      for (const i of r.Instances ?? []) {
        if (!i.InstanceId) continue;
        found.push({
          id: i.InstanceId,
          instanceType: i.InstanceType,
          subnetId: i.SubnetId,
          availabilityZone: i.Placement?.AvailabilityZone,
          spotRequestId: i.SpotInstanceRequestId,
          launchedAt: i.LaunchTime ? new Date(i.LaunchTime).toISOString() : undefined,
          tags: Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
        });
      }
    }
    NextToken = out.NextToken;
  } while (NextToken);
  return found;
}

/**
 * What EC2 says of an instance a fleet just launched (its zone and spot request: CreateFleet answers
 * only ids). EC2 is eventually consistent: a just-launched instance may not be known yet
 * ("Eventual consistency in the Amazon EC2 API"); then undefined, and the polls learn the rest.
 */
export async function describeLaunched(ec2: Ec2Send, instanceId: string): Promise<ExistingInstance | undefined> {
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    const i = out.Reservations?.[0]?.Instances?.[0];
    if (!i?.InstanceId) return undefined;
    return { id: i.InstanceId, instanceType: i.InstanceType, subnetId: i.SubnetId, availabilityZone: i.Placement?.AvailabilityZone, spotRequestId: i.SpotInstanceRequestId };
  } catch (err) {
    if (errorCode(err) === 'InvalidInstanceID.NotFound' || isTransient(err)) {
      logger.warn('could not describe the instance just launched; the polls will', { instanceId, error: errorCode(err) });
      return undefined;
    }
    throw err;
  }
}

/** Instances of one SpotPhase execution that are not terminated yet (optionally one attempt's). */
export function findExecutionInstances(ec2: Ec2Send, executionId: string, attempt?: number): Promise<ExistingInstance[]> {
  return findTaggedInstances(ec2, { [TAG.execution]: executionId, ...(attempt !== undefined ? { [TAG.attempt]: String(attempt) } : {}) });
}

/**
 * Terminate the instance an execution knows of (if any) and every other live instance tagged with
 * that execution (optionally only one attempt's): what a phase does whenever an attempt or the
 * phase ends. Returns the ids terminated.
 */
export async function terminateExecutionInstances(ec2: Ec2Send, executionId: string, known?: { instanceId?: string; attempt?: number }): Promise<string[]> {
  const tagged = await findExecutionInstances(ec2, executionId, known?.attempt);
  return terminate(ec2, [...(known?.instanceId ? [known.instanceId] : []), ...tagged.map((i) => i.id)]);
}

/** Terminate instances; ones EC2 no longer knows are already gone, which is what we want. */
export async function terminate(ec2: Ec2Send, instanceIds: readonly string[]): Promise<string[]> {
  const unique = [...new Set(instanceIds)];
  if (unique.length === 0) return [];
  try {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: unique }));
    return unique;
  } catch (err) {
    if (errorCode(err) !== 'InvalidInstanceID.NotFound' || unique.length === 1) {
      if (errorCode(err) === 'InvalidInstanceID.NotFound') return [];
      throw err;
    }
    // One unknown id fails the whole call: terminate the rest one by one.
    const done: string[] = [];
    for (const id of unique) done.push(...(await terminate(ec2, [id])));
    return done;
  }
}

/**
 * terminateExecutionInstances when the task may still be retried; otherwise (the deadline too
 * near for a retry, see decisions/phase-clock.ts mayRetryTask) a transient failure is logged and
 * what is left is the safety net's: the execution-cleanup rule terminates every instance of the
 * execution when it ends, and the orphan reaper after that.
 */
export async function terminateOrLeaveToSafetyNet(
  ec2: Ec2Send,
  executionId: string,
  known: { instanceId?: string; attempt?: number },
  mayRetry: boolean,
): Promise<{ terminated: string[]; leftToSafetyNet: boolean }> {
  try {
    return { terminated: await terminateExecutionInstances(ec2, executionId, known), leftToSafetyNet: false };
  } catch (err) {
    if (mayRetry || !isTransient(err)) throw err;
    logger.error('could not terminate before the deadline; the execution-cleanup rule and the orphan reaper will', { executionId, ...known, error: errorCode(err) });
    return { terminated: [], leftToSafetyNet: true };
  }
}
