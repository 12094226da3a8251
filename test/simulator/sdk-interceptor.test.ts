/**
 * The simulated account answers below the SDK's retry middleware: a throttled try is retried by
 * the SDK itself, as on AWS; two sends on one cold client (a parallel group's tasks) are both
 * answered; an aborted call is not sent.
 */
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import FakeTimers from '@sinonjs/fake-timers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseScenario } from '../../simulator/scenario';
import { routeSdkToAccount } from '../../simulator/sdk-interceptor';
import { SimulatedAccount } from '../../simulator/services/account';
import type { SimulatedStepFunctions } from '../../simulator/step-functions';

function account(throttle: Record<string, number> = {}): SimulatedAccount {
  return new SimulatedAccount({ scenario: parseScenario({ throttle }), subnetZones: new Map(), launchTemplates: new Map([['lt-0', {}]]), stepFunctions: {} as SimulatedStepFunctions });
}

describe('the SDK routed to the simulated account', () => {
  let unroute: (() => void) | undefined;
  let clock: ReturnType<typeof FakeTimers.install> | undefined;
  beforeEach(() => {
    clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    unroute?.();
    clock?.uninstall();
  });

  it('two sends on one cold client at once are both answered (the middleware is added once)', async () => {
    // Prepare
    const cloud = account();
    unroute = routeSdkToAccount(cloud);
    const ec2 = new EC2Client({ maxAttempts: 5 });

    // Act
    const answers = await Promise.all([ec2.send(new DescribeInstancesCommand({})), ec2.send(new DescribeInstancesCommand({}))]);

    // Assess
    expect(answers.map((a) => a.Reservations)).toEqual([[], []]);
    expect(cloud.calls.get('EC2.DescribeInstances')).toBe(2);
  });

  it('a call throttled three times is retried by the SDK and answered: four tries reached the account', async () => {
    // Prepare
    const cloud = account({ 'EC2.DescribeInstances': 3 });
    unroute = routeSdkToAccount(cloud);
    const ec2 = new EC2Client({ maxAttempts: 5 });

    // Act
    const answering = ec2.send(new DescribeInstancesCommand({}));
    await clock!.runAllAsync();
    const answer = await answering;

    // Assess
    expect(answer.$metadata.attempts).toBe(4);
    expect(cloud.calls.get('EC2.DescribeInstances')).toBe(4);
    expect(cloud.throttledCalls.get('EC2.DescribeInstances')).toBe(3);
  });

  it('throttled past its five tries, the call fails with the AWS error (RequestLimitExceeded for EC2)', async () => {
    // Prepare
    const cloud = account({ 'EC2.DescribeInstances': 9 });
    unroute = routeSdkToAccount(cloud);
    const ec2 = new EC2Client({ maxAttempts: 5 });

    // Act
    const answering = ec2.send(new DescribeInstancesCommand({})).catch((err: unknown) => err);
    await clock!.runAllAsync();
    const err = (await answering) as Error;

    // Assess
    expect(err.name).toBe('RequestLimitExceeded');
    expect(cloud.calls.get('EC2.DescribeInstances')).toBe(5);
  });

  it('an aborted call is not sent', async () => {
    // Prepare
    const cloud = account();
    unroute = routeSdkToAccount(cloud);
    const ec2 = new EC2Client({ maxAttempts: 5 });
    const controller = new AbortController();
    controller.abort();

    // Act
    const err = (await ec2.send(new DescribeInstancesCommand({}), { abortSignal: controller.signal }).catch((e: unknown) => e)) as Error;

    // Assess
    expect(err.name).toBe('AbortError');
    expect(cloud.calls.get('EC2.DescribeInstances')).toBeUndefined();
  });
});
