/**
 * An on-demand attempt (config onDemandFallback; decisions/market.ts) as LaunchInstance makes it,
 * against mocked EC2 answering as the service does; and the launch role's permission to do so,
 * only for the phases that opt in.
 */
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TAG } from '../../contract/tags';
import { handler as launchInstance } from '../../lambdas/launch-instance';
import { parsePipelineConfig } from '../../lib/config/load';
import { SpotPipelineStack } from '../../lib/spot-pipeline-stack';
import { at, clockAt, job, stubHandlerEnv, taskInput, type LooseJob } from './fixtures';

const ec2 = mockClient(EC2Client);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
/** RunInstances' answer for an on-demand instance: no spot request. */
const ON_DEMAND_INSTANCE = { InstanceId: 'i-0ondemand0000001', Placement: { AvailabilityZone: 'us-east-1a' } };

beforeEach(() => {
  ec2.reset();
  sfn.reset();
  s3.reset();
  s3.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
  stubHandlerEnv();
  clockAt(at(900));
  sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  ec2.on(TerminateInstancesCommand).resolves({});
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('LaunchInstance: an attempt the phase fell back to on-demand', () => {
  it('asks RunInstances for no spot market, tags no spot request, and marks the instance and its tags on-demand', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [ON_DEMAND_INSTANCE] });

    // Act
    const result: LooseJob = await launchInstance(taskInput({ phase: { onDemandFallback: true }, job: job({ attempt: 2, market: 'on-demand' } as never) }));

    // Assess
    const input = ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input;
    expect(input.InstanceMarketOptions).toBeUndefined();
    expect(input.TagSpecifications!.map((t) => t.ResourceType)).toEqual(['instance', 'volume']);
    expect(input.TagSpecifications![0]!.Tags).toContainEqual({ Key: TAG.market, Value: 'on-demand' });
    expect(result).toMatchObject({ status: 'booting', instance: { id: 'i-0ondemand0000001', market: 'on-demand' } });
    expect(result.instance?.spotRequestId).toBeUndefined();
  });

  it('a spot attempt asks for spot, one-time, terminate on interruption, and tags its spot request too', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ ...ON_DEMAND_INSTANCE, SpotInstanceRequestId: 'sir-00000001' }] });

    // Act
    const result: LooseJob = await launchInstance(taskInput({ phase: { onDemandFallback: true } }));

    // Assess
    const input = ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input;
    expect(input.InstanceMarketOptions).toEqual({ MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } });
    expect(input.TagSpecifications!.map((t) => t.ResourceType)).toEqual(['instance', 'volume', 'spot-instances-request']);
    expect(input.TagSpecifications![0]!.Tags).toContainEqual({ Key: TAG.market, Value: 'spot' });
    expect(result.instance).not.toHaveProperty('market');
  });
});

describe('LaunchInstance: falling back within the attempt', () => {
  const refused = () => Object.assign(new Error('There is no Spot capacity available that matches your request.'), { name: 'InsufficientInstanceCapacity', $metadata: { httpStatusCode: 500 } });

  it('every spot pool refused: the same attempt asks on-demand, with its own token, and its job carries the fallback datum', async () => {
    // Prepare: spot refused in all 9 pools, on-demand takes the first.
    ec2.on(RunInstancesCommand).callsFake((input: { InstanceMarketOptions?: unknown }) => {
      if (input.InstanceMarketOptions) throw refused();
      return { Instances: [ON_DEMAND_INSTANCE] };
    });

    // Act
    const result = (await launchInstance(taskInput({ phase: { onDemandFallback: true } }))) as LooseJob & { fallback?: { trigger: string; metricData: unknown[] } };

    // Assess
    const calls = ec2.commandCalls(RunInstancesCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(10);
    expect(calls.slice(0, 9).every((c) => c.InstanceMarketOptions)).toBe(true);
    expect(calls[9]!.InstanceMarketOptions).toBeUndefined();
    expect(calls[9]!.ClientToken).not.toBe(calls.find((c) => c.SubnetId === calls[9]!.SubnetId && c.InstanceType === calls[9]!.InstanceType)!.ClientToken);
    expect(result).toMatchObject({ status: 'booting', instance: { market: 'on-demand' }, fallback: { trigger: 'capacity-exhausted' } });
    expect(result.fallback!.metricData).toEqual([{ MetricName: 'OnDemandFallback', Unit: 'Count', Value: 1, Dimensions: [{ Name: 'Phase', Value: 'DataPhase1' }, { Name: 'Trigger', Value: 'capacity-exhausted' }] }]);
  });

  it('without whenCapacityExhausted: no on-demand try; the attempt ends capacity-exhausted', async () => {
    // Prepare
    ec2.on(RunInstancesCommand).callsFake(() => {
      throw refused();
    });

    // Act
    const result: LooseJob = await launchInstance(taskInput({ phase: { onDemandFallback: { lastAttempt: true, whenCapacityExhausted: false } } }));

    // Assess
    expect(ec2.commandCalls(RunInstancesCommand).every((c) => c.args[0].input.InstanceMarketOptions)).toBe(true);
    expect(result).toMatchObject({ status: 'failed', failure: { reasonCode: 'capacity-exhausted' } });
  });

  it("a first attempt that is the phase's only affordable one launches on-demand at once (lastAttempt)", async () => {
    // Prepare: DataPhase1's 5400 s hold one attempt of 4800 s.
    ec2.on(RunInstancesCommand).resolves({ Instances: [ON_DEMAND_INSTANCE] });

    // Act
    const result = (await launchInstance(taskInput({ phase: { onDemandFallback: true, attemptSeconds: 4800 } }))) as LooseJob & { fallback?: { trigger: string } };

    // Assess
    expect(ec2.commandCalls(RunInstancesCommand)[0]!.args[0].input.InstanceMarketOptions).toBeUndefined();
    expect(result.fallback?.trigger).toBe('last-attempt');
  });
});

describe('the launch role and the on-demand market', () => {
  type Statement = { Action: string | string[]; Resource: unknown; Condition?: { StringEquals?: Record<string, unknown> } };
  function launchStatements(phases: object[]): Statement[] {
    const config = parsePipelineConfig({ schedules: { enabled: false }, phases });
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const template = Template.fromStack(new SpotPipelineStack(app, 'S', { config }));
    return Object.entries(template.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('LaunchInstanceFn'))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
  }
  const instanceStatements = (statements: Statement[]) => statements.filter((s) => JSON.stringify(s.Resource).includes(':instance/*') && [s.Action].flat().includes('ec2:RunInstances'));
  const phase = (name: string, extra: object = {}) => ({ name, workloadCommand: 'run', instanceTypes: ['c5.large'], budgetSeconds: 3600, attemptSeconds: 1200, ...extra });

  it('may launch instances on spot only when no phase opts in', () => {
    // Act
    const statements = instanceStatements(launchStatements([phase('Prepare'), phase('Train')]));

    // Assess
    expect(statements.map((s) => s.Condition?.StringEquals?.['ec2:InstanceMarketType'])).toEqual(['spot']);
  });

  it('may launch on-demand only instances tagged with a phase that opts in', () => {
    // Act
    const statements = instanceStatements(launchStatements([phase('Prepare'), phase('Train', { onDemandFallback: true }), phase('Report', { onDemandFallback: { afterInterruptions: 2 } })]));

    // Assess
    const onDemand = statements.filter((s) => s.Condition?.StringEquals?.['ec2:InstanceMarketType'] === 'on-demand');
    expect(onDemand).toHaveLength(1);
    expect(onDemand[0]!.Condition!.StringEquals).toMatchObject({ [`aws:RequestTag/${TAG.phase}`]: ['Train', 'Report'], [`aws:RequestTag/${TAG.pipeline}`]: 'saturday-pipeline' });
  });
});
