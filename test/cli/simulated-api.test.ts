/**
 * The Step Functions and CloudWatch Logs operations the CLI reads a pipeline with, as the simulated
 * account answers them after a run (simulator/services/sfn.ts, logs.ts), through the ordinary SDK
 * clients: the documented shapes, order, paging and errors.
 */
import * as path from 'node:path';
import { CloudWatchLogsClient, DescribeLogStreamsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { beforeAll, describe, expect, it } from 'vitest';
import { runSimulation, serveSimulation, type Simulation } from '../../simulator/run';
import { loadScenario } from '../../simulator/scenario';

const SCENARIOS = path.join(__dirname, '..', '..', 'scenarios');
const PIPELINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:saturday-pipeline';
const RUN = 'arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline:saturday-run';

let sim: Simulation;
beforeAll(async () => {
  sim = await runSimulation(loadScenario(path.join(SCENARIOS, 'seed-001-dataphase1-reclaimed.json')), { baseDir: SCENARIOS });
});

/** The error name a call fails with (undefined when it succeeds). */
const failure = (p: Promise<unknown>) => p.then(() => undefined, (err: Error) => err.name);

describe('Step Functions, read after the run', () => {
  it('ListStateMachines and ListExecutions (newest first, statusFilter, paging); DescribeExecution with input and output', async () => {
    await serveSimulation(sim, async () => {
      // Prepare
      const sfn = new SFNClient({});
      const later = await sfn.send(new StartExecutionCommand({ stateMachineArn: PIPELINE, name: 'later', input: '{"mode":"preflight"}' }));

      // Act
      const machines = await sfn.send(new ListStateMachinesCommand({}));
      const all = await sfn.send(new ListExecutionsCommand({ stateMachineArn: PIPELINE }));
      const succeeded = await sfn.send(new ListExecutionsCommand({ stateMachineArn: PIPELINE, statusFilter: 'SUCCEEDED' }));
      const first = await sfn.send(new ListExecutionsCommand({ stateMachineArn: PIPELINE, maxResults: 1 }));
      const second = await sfn.send(new ListExecutionsCommand({ stateMachineArn: PIPELINE, maxResults: 1, nextToken: first.nextToken }));
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: RUN }));

      // Assess
      expect(machines.stateMachines!.map((m) => [m.name, m.type])).toEqual(expect.arrayContaining([['saturday-pipeline', 'STANDARD'], ['saturday-pipeline-spot-phase', 'STANDARD']]));
      expect(all.executions!.map((e) => [e.name, e.status])).toEqual([
        ['later', 'RUNNING'],
        ['saturday-run', 'SUCCEEDED'],
      ]);
      expect(later.executionArn).toBe(all.executions![0]!.executionArn);
      expect(all.executions![1]!.startDate).toEqual(new Date('2026-05-30T09:00:00Z'));
      expect(succeeded.executions!.map((e) => e.name)).toEqual(['saturday-run']);
      expect([first.executions![0]!.name, second.executions![0]!.name, second.nextToken]).toEqual(['later', 'saturday-run', undefined]);
      expect(JSON.parse(described.input!)).toEqual({ mode: 'full' });
      expect(Object.keys((JSON.parse(described.output!) as { phases: object }).phases)).toEqual(['DataPhase1', 'Research', 'PredictorTraining', 'Backtester']);
      expect(described.redriveStatus).toBe('NOT_REDRIVABLE');
    });
  });

  it('GetExecutionHistory: ids in order, typed details, each phase task submitted with its child execution; reverseOrder, paging, includeExecutionData', async () => {
    await serveSimulation(sim, async () => {
      // Prepare
      const sfn = new SFNClient({});
      const children = sim.stepFunctions.executions.filter((e) => e.parentArn === RUN).map((e) => e.arn);

      // Act
      const { events } = await sfn.send(new GetExecutionHistoryCommand({ executionArn: RUN, maxResults: 1000 }));
      const pages: HistoryEvent[] = [];
      let nextToken: string | undefined;
      do {
        const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn: RUN, maxResults: 7, nextToken }));
        pages.push(...page.events!);
        nextToken = page.nextToken;
      } while (nextToken);
      const reversed = await sfn.send(new GetExecutionHistoryCommand({ executionArn: RUN, reverseOrder: true, maxResults: 1 }));
      const bare = await sfn.send(new GetExecutionHistoryCommand({ executionArn: RUN, includeExecutionData: false, maxResults: 1 }));

      // Assess
      expect(events!.map((e) => e.id)).toEqual(events!.map((_, i) => i + 1));
      expect(events!.map((e) => e.previousEventId)).toEqual(events!.map((_, i) => i));
      expect(events![0]).toMatchObject({ type: 'ExecutionStarted', executionStartedEventDetails: { input: '{"mode":"full"}', stateMachineArn: PIPELINE } });
      expect(events!.slice(1, 4).map((e) => e.type)).toEqual(['TaskStateEntered', 'LambdaFunctionScheduled', 'LambdaFunctionStarted']);
      const submitted = events!.filter((e) => e.type === 'TaskSubmitted');
      expect(submitted.map((e) => (JSON.parse(e.taskSubmittedEventDetails!.output!) as { ExecutionArn: string }).ExecutionArn)).toEqual(children);
      expect(submitted[0]!.taskSubmittedEventDetails).toMatchObject({ resourceType: 'states', resource: 'startExecution.sync:2' });
      const succeeded = events!.filter((e) => e.type === 'TaskSucceeded').map((e) => JSON.parse(e.taskSucceededEventDetails!.output!) as { ExecutionArn: string; Status: string });
      expect(succeeded.map((d) => [d.ExecutionArn, d.Status])).toEqual(children.map((arn) => [arn, 'SUCCEEDED']));
      expect(events!.at(-1)!.type).toBe('ExecutionSucceeded');
      expect(pages).toEqual(events);
      expect(reversed.events!.map((e) => e.id)).toEqual([events!.length]);
      expect(bare.events![0]!.executionStartedEventDetails).toEqual({ roleArn: expect.any(String), stateMachineArn: PIPELINE });
    });
  });

  it('the documented errors: ExecutionDoesNotExist, StateMachineDoesNotExist, ExecutionAlreadyExists, InvalidName, ExecutionNotRedrivable, InvalidToken', async () => {
    await serveSimulation(sim, async () => {
      // Prepare
      const sfn = new SFNClient({ maxAttempts: 1 });

      // Act
      const errors = await Promise.all([
        failure(sfn.send(new GetExecutionHistoryCommand({ executionArn: `${RUN}-not` }))),
        failure(sfn.send(new DescribeExecutionCommand({ executionArn: `${RUN}-not` }))),
        failure(sfn.send(new ListExecutionsCommand({ stateMachineArn: `${PIPELINE}-not` }))),
        failure(sfn.send(new StartExecutionCommand({ stateMachineArn: PIPELINE, name: 'saturday-run', input: '{"mode":"full"}' }))),
        failure(sfn.send(new StartExecutionCommand({ stateMachineArn: PIPELINE, name: 'no spaces' }))),
        failure(sfn.send(new RedriveExecutionCommand({ executionArn: RUN }))),
        failure(sfn.send(new ListExecutionsCommand({ stateMachineArn: PIPELINE, nextToken: 'forged' }))),
      ]);

      // Assess
      expect(errors).toEqual(['ExecutionDoesNotExist', 'ExecutionDoesNotExist', 'StateMachineDoesNotExist', 'ExecutionAlreadyExists', 'InvalidName', 'ExecutionNotRedrivable', 'InvalidToken']);
    });
  });

  it('a redriven execution: one history with ExecutionRedriven between the runs; ListExecutions gives its redriveCount', async () => {
    // Prepare
    const redriven = await runSimulation(loadScenario(path.join(SCENARIOS, 'crypto-fanout-redrive.json')), { baseDir: SCENARIOS });
    const arn = redriven.pipeline.arn;

    await serveSimulation(redriven, async () => {
      // Act
      const sfn = new SFNClient({});
      const { events } = await sfn.send(new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000 }));
      const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: redriven.pipeline.stateMachine.arn }));

      // Assess
      const types = events!.map((e) => e.type);
      expect(types.filter((t) => t === 'ExecutionStarted' || t === 'ExecutionRedriven' || t === 'ExecutionFailed' || t === 'ExecutionSucceeded')).toEqual(['ExecutionStarted', 'ExecutionFailed', 'ExecutionRedriven', 'ExecutionSucceeded']);
      expect(events!.find((e) => e.type === 'ExecutionRedriven')!.executionRedrivenEventDetails).toEqual({ redriveCount: 1 });
      expect(types).toContain('MapIterationStarted');
      expect(listed.executions![0]).toMatchObject({ name: 'saturday-run', status: 'SUCCEEDED', redriveCount: 1 });
    });
  });
});

describe('CloudWatch Logs, read after the run', () => {
  it('FilterLogEvents by stream prefix (both streams, in time order, paged); DescribeLogStreams; the documented errors', async () => {
    await serveSimulation(sim, async () => {
      // Prepare
      const logs = new CloudWatchLogsClient({ maxAttempts: 1 });
      const inv = sim.cloud.invocations.find((i) => i.phase === 'DataPhase1' && i.attempt === 1)!;
      const prefix = `${inv.commandId}/${inv.instanceId}/`;
      const logGroupName = '/spot-pipeline/saturday-pipeline/workloads';

      // Act
      const all = await logs.send(new FilterLogEventsCommand({ logGroupName, logStreamNamePrefix: prefix }));
      const firstPage = await logs.send(new FilterLogEventsCommand({ logGroupName, logStreamNamePrefix: prefix, limit: 5 }));
      const rest = await logs.send(new FilterLogEventsCommand({ logGroupName, logStreamNamePrefix: prefix, nextToken: firstPage.nextToken }));
      const late = await logs.send(new FilterLogEventsCommand({ logGroupName, logStreamNames: [`${prefix}aws-runShellScript/stdout`], startTime: all.events!.at(-3)!.timestamp }));
      const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName, logStreamNamePrefix: prefix }));
      const both = await failure(logs.send(new FilterLogEventsCommand({ logGroupName, logStreamNamePrefix: prefix, logStreamNames: ['x'] })));

      // Assess
      const timestamps = all.events!.map((e) => e.timestamp!);
      expect(timestamps).toEqual([...timestamps].sort((a, b) => a - b));
      expect(new Set(all.events!.map((e) => e.logStreamName))).toEqual(new Set([`${prefix}aws-runShellScript/stdout`, `${prefix}aws-runShellScript/stderr`]));
      expect(all.events![0]!.message).toBe('DataPhase1 workload started (attempt 1)');
      expect([...firstPage.events!, ...rest.events!]).toEqual(all.events);
      expect(late.events!.every((e) => e.logStreamName!.endsWith('/stdout') && e.timestamp! >= all.events!.at(-3)!.timestamp!)).toBe(true);
      expect(streams.logStreams!.map((s) => s.logStreamName)).toEqual([`${prefix}aws-runShellScript/stderr`, `${prefix}aws-runShellScript/stdout`]);
      expect(both).toBe('InvalidParameterException');
    });
  });
});
