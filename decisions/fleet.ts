/**
 * Fleet launches (CreateFleet, type instant, price-capacity-optimized): which pools one call asks
 * for, and what its answer means. Pure: lambdas/launch-instance.ts makes the calls.
 *
 * An instant fleet answers with HTTP 200 whatever capacity it found: the instances it launched in
 * `Instances`, and what it could not launch in `Errors` (ErrorCode, ErrorMessage, the
 * LaunchTemplateAndOverrides it tried, Lifecycle), each a pool's refusal or a setup problem
 * (EC2 API reference, "CreateFleet": Response Elements; "CreateFleetError"). So the answer is read,
 * not caught: an empty `Instances` with capacity errors is a launch that found no capacity.
 */
import { isCapacityError, quotaOf } from './classify';
import type { Pool } from './pools';

/** One call's pools: a first call over the pools with no recent trouble, then the troubled ones, never the pool just reclaimed (unless it is the only one). */
export function fleetCalls(order: readonly number[], troubled: ReadonlySet<number>, leavePool: number | undefined): number[][] {
  const allowed = leavePool !== undefined && order.length > 1 ? order.filter((i) => i !== leavePool) : [...order];
  const clear = allowed.filter((i) => !troubled.has(i));
  const rest = allowed.filter((i) => troubled.has(i));
  return [clear, rest].filter((call) => call.length > 0);
}

/** An error entry of CreateFleet's answer, as the SDK gives it. */
export interface FleetError {
  readonly ErrorCode?: string;
  readonly ErrorMessage?: string;
  readonly LaunchTemplateAndOverrides?: { readonly Overrides?: { readonly InstanceType?: string; readonly SubnetId?: string } };
}

/** An instance entry of CreateFleet's answer, as the SDK gives it. */
export interface FleetInstances {
  readonly InstanceIds?: readonly string[];
  readonly InstanceType?: string;
  readonly Lifecycle?: string;
  readonly LaunchTemplateAndOverrides?: { readonly Overrides?: { readonly InstanceType?: string; readonly SubnetId?: string } };
}

export interface FleetRefusal {
  readonly pool?: Pool;
  readonly code: string;
  readonly message: string;
}

export type FleetAnswer =
  | { readonly kind: 'launched'; readonly instanceId: string; readonly pool: Pool; readonly refusals: readonly FleetRefusal[] }
  | { readonly kind: 'no-capacity'; readonly refusals: readonly FleetRefusal[] }
  | { readonly kind: 'quota'; readonly code: string; readonly quota: string; readonly where: string }
  | { readonly kind: 'setup'; readonly code: string; readonly message: string };

/**
 * EC2 could not use (or create) a service-linked role: spot launches need AWSServiceRoleForEC2Spot
 * (EC2 user guide, "Service-linked role for Spot Instance requests"); fleets other than instant need
 * AWSServiceRoleForEC2Fleet ("EC2 Fleet prerequisites"). Either is created once per account.
 */
function serviceLinkedRoleProblem(code: string, message: string): boolean {
  return /ServiceLinkedRole/i.test(code) || /service[- ]linked role/i.test(message);
}

export const SERVICE_LINKED_ROLE_HELP =
  'create the service-linked roles once per account: `aws iam create-service-linked-role --aws-service-name spot.amazonaws.com` ' +
  '(and `--aws-service-name ec2fleet.amazonaws.com`), or set "allocation": "rotation" to launch with RunInstances';

function where(error: FleetError): string {
  const o = error.LaunchTemplateAndOverrides?.Overrides;
  return o?.InstanceType || o?.SubnetId ? `${o.InstanceType ?? '?'}/${o.SubnetId ?? '?'}` : 'the fleet';
}

/** What one instant fleet's answer means for the attempt. */
export function readFleetAnswer(answer: { readonly Instances?: readonly FleetInstances[]; readonly Errors?: readonly FleetError[] }, pools: readonly Pool[]): FleetAnswer {
  const refusals: FleetRefusal[] = [];
  const problems: FleetAnswer[] = [];
  for (const error of answer.Errors ?? []) {
    const code = error.ErrorCode ?? 'UnknownError';
    const message = error.ErrorMessage ?? '';
    const o = error.LaunchTemplateAndOverrides?.Overrides;
    const pool = pools.find((p) => p.instanceType === o?.InstanceType && p.subnetId === o?.SubnetId);
    const quota = quotaOf(code);
    if (isCapacityError(code)) refusals.push({ ...(pool ? { pool } : {}), code, message });
    else if (quota) problems.push({ kind: 'quota', code, quota, where: where(error) });
    else if (serviceLinkedRoleProblem(code, message)) problems.push({ kind: 'setup', code, message: `${code} in ${where(error)}: ${message}; ${SERVICE_LINKED_ROLE_HELP}` });
    else problems.push({ kind: 'setup', code, message: `${code} in ${where(error)}: ${message}` });
  }
  for (const group of answer.Instances ?? []) {
    const instanceId = group.InstanceIds?.[0];
    if (!instanceId) continue;
    const o = group.LaunchTemplateAndOverrides?.Overrides;
    const pool = pools.find((p) => p.instanceType === (o?.InstanceType ?? group.InstanceType) && p.subnetId === o?.SubnetId);
    if (pool) return { kind: 'launched', instanceId, pool, refusals };
    // An instance from an override this launch did not ask for cannot be: say so rather than guess its pool.
    return { kind: 'setup', code: 'UnexpectedFleetAnswer', message: `CreateFleet launched ${instanceId} from overrides ${JSON.stringify(o ?? {})} it was not asked for` };
  }
  // Nothing launched: a quota or a setup problem fails the phase (never relaunched); otherwise no capacity.
  const first = problems.find((p) => p.kind === 'quota') ?? problems[0];
  if (first) return first;
  return { kind: 'no-capacity', refusals: refusals.length > 0 ? refusals : [{ code: 'UnfulfillableCapacity', message: 'the fleet launched nothing and named no error' }] };
}
