import { describe, expect, it } from 'vitest';
import { fleetCalls, readFleetAnswer } from '../../decisions/fleet';
import { poolOrder, widenToSecondary } from '../../decisions/pools';

const POOLS = poolOrder(['c5.large', 'm5.large'], ['subnet-0a', 'subnet-0b']);
const o = (i: number) => ({ Overrides: { InstanceType: POOLS[i]!.instanceType, SubnetId: POOLS[i]!.subnetId } });

describe('fleetCalls: which pools each CreateFleet call asks', () => {
  it('one call over every pool when none had trouble; the reclaimed pool left out', () => {
    expect(fleetCalls([0, 1, 2, 3], new Set(), undefined)).toEqual([[0, 1, 2, 3]]);
    expect(fleetCalls([0, 1, 2, 3], new Set(), 2)).toEqual([[0, 1, 3]]);
  });

  it('troubled pools in a second call; all troubled: one call; the only pool is never left out', () => {
    expect(fleetCalls([0, 1, 2, 3], new Set([1, 3]), 0)).toEqual([[2], [1, 3]]);
    expect(fleetCalls([0, 1], new Set([0, 1]), undefined)).toEqual([[0, 1]]);
    expect(fleetCalls([0], new Set(), 0)).toEqual([[0]]);
  });
});

describe('readFleetAnswer: an instant fleet answers HTTP 200 whatever happened', () => {
  it('an instance launched is the answer, whatever Errors say of other pools', () => {
    const answer = readFleetAnswer({ Instances: [{ InstanceIds: ['i-1'], ...{ LaunchTemplateAndOverrides: o(2) } }], Errors: [{ ErrorCode: 'InsufficientInstanceCapacity', LaunchTemplateAndOverrides: o(0) }, { ErrorCode: 'VcpuLimitExceeded' }] }, POOLS);
    expect(answer).toEqual({ kind: 'launched', instanceId: 'i-1', pool: POOLS[2], refusals: [{ pool: POOLS[0], code: 'InsufficientInstanceCapacity', message: '' }] });
  });

  it('nothing launched: a quota before a setup problem before no capacity', () => {
    const capacity = { ErrorCode: 'InsufficientInstanceCapacity', LaunchTemplateAndOverrides: o(0) };
    expect(readFleetAnswer({ Instances: [], Errors: [capacity, { ErrorCode: 'InvalidParameterValue', ErrorMessage: 'bad' }, { ErrorCode: 'VcpuLimitExceeded' }] }, POOLS)).toMatchObject({ kind: 'quota', code: 'VcpuLimitExceeded' });
    expect(readFleetAnswer({ Instances: [], Errors: [capacity, { ErrorCode: 'InvalidParameterValue', ErrorMessage: 'bad' }] }, POOLS)).toMatchObject({ kind: 'setup', code: 'InvalidParameterValue' });
    expect(readFleetAnswer({ Instances: [], Errors: [capacity] }, POOLS)).toEqual({ kind: 'no-capacity', refusals: [{ pool: POOLS[0], code: 'InsufficientInstanceCapacity', message: '' }] });
    expect(readFleetAnswer({}, POOLS)).toMatchObject({ kind: 'no-capacity', refusals: [{ code: 'UnfulfillableCapacity' }] });
  });

  it('a service-linked role problem says how to fix it', () => {
    const answer = readFleetAnswer({ Errors: [{ ErrorCode: 'AuthFailure.ServiceLinkedRoleCreationNotPermitted', ErrorMessage: 'no permission' }] }, POOLS);
    expect(answer).toMatchObject({ kind: 'setup' });
    expect((answer as { message: string }).message).toContain('aws iam create-service-linked-role --aws-service-name spot.amazonaws.com');
  });

  it('an instance from an override never asked for is not guessed into a pool', () => {
    expect(readFleetAnswer({ Instances: [{ InstanceIds: ['i-1'], LaunchTemplateAndOverrides: { Overrides: { InstanceType: 'x1.large', SubnetId: 'subnet-zz' } } }] }, POOLS)).toMatchObject({ kind: 'setup', code: 'UnexpectedFleetAnswer' });
  });
});

describe('widenToSecondary: the secondary instance types join as slack shrinks', () => {
  const phase = { budgetSeconds: 5400, attemptSeconds: 1200, relaunchBackoffSeconds: 60 };
  const at = (left: number) => ({ nowMs: 0, deadlineMs: left * 1000 });

  it('not while three whole attempts or more still fit; from two on, and when not even one fits', () => {
    // (each attempt after the first needs its relaunch gap: the backoff and CountRelaunch's worst case)
    expect(widenToSecondary(phase, at(5000))).toBe(false);
    expect(widenToSecondary(phase, at(2500))).toBe(true);
    expect(widenToSecondary(phase, at(1300))).toBe(true);
    expect(widenToSecondary(phase, at(100))).toBe(true);
  });
});
