/**
 * WakePhase, the wake relay: EventBridge events as AWS sends them (EC2 user guide, "Spot Instance
 * interruption notices" and "EC2 instance state change events"; Systems Manager user guide,
 * "Amazon EventBridge event examples") reach the phase waiting for the instance, by its task token.
 */
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler, STALE_TOKEN_LOOKS, WaitNotFoundYet, WARNING_LOOKS } from '../../lambdas/wake-phase';

const s3 = mockClient(S3Client);
const sfn = mockClient(SFNClient);
const INSTANCE = 'i-0123456789abcdef0';
const KEY = `saturday-pipeline/waits/${INSTANCE}`;

const envelope = (detailType: string, source: string, detail: Record<string, unknown>) => ({
  version: '0',
  id: '7bf73129-1428-4cd3-a780-95db273d1602',
  'detail-type': detailType,
  source,
  account: '123456789012',
  time: '2026-05-30T09:40:00Z',
  region: 'us-east-1',
  resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${INSTANCE}`],
  detail,
});
const warning = () => envelope('EC2 Spot Instance Interruption Warning', 'aws.ec2', { 'instance-id': INSTANCE, 'instance-action': 'terminate' });
const stateChange = (state: string) => envelope('EC2 Instance State-change Notification', 'aws.ec2', { 'instance-id': INSTANCE, state });
const commandEnded = (status: string) =>
  envelope('EC2 Command Invocation Status-change Notification', 'aws.ssm', { 'command-id': '11111111-2222-3333-4444-555555555555', 'document-name': 'AWS-RunShellScript', 'instance-id': INSTANCE, 'requested-date-time': '2026-05-30T09:10:00.123Z', status });
const rebalance = () => envelope('EC2 Instance Rebalance Recommendation', 'aws.ec2', { 'instance-id': INSTANCE });

const body = (text: string) => Object.assign(Readable.from([Buffer.from(text)]), { transformToString: async () => text });
const token = (t: string, pool = 'c5.large/subnet-0a1b2c3d') => ({ Body: body(t), Metadata: { pool } }) as never;

beforeEach(() => {
  s3.reset();
  sfn.reset();
  vi.stubEnv('PIPELINE_BUCKET', 'pipeline-bucket');
  vi.stubEnv('PIPELINE_NAME', 'saturday-pipeline');
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_LAMBDA_LOG_LEVEL', 'ERROR');
  sfn.on(SendTaskSuccessCommand).resolves({});
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('WakePhase', () => {
  it.each([
    ['spot\'s interruption warning', warning()],
    ['the instance shutting down', stateChange('shutting-down')],
    ['the instance terminated', stateChange('terminated')],
    ['the command succeeded', commandEnded('Success')],
    ['the command failed', commandEnded('Failed')],
  ])('%s ends the wait of the phase running on the instance (SendTaskSuccess with its token)', async (_what, event) => {
    // Prepare
    s3.on(GetObjectCommand, { Bucket: 'pipeline-bucket', Key: KEY }).resolves(token('token-1'));

    // Act
    const result = await handler(event);

    // Assess
    expect(result).toEqual({ woke: true, instanceId: INSTANCE });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    const sent = sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input;
    expect(sent.taskToken).toBe('token-1');
    expect(JSON.parse(sent.output!)).toEqual({ event: event['detail-type'], time: '2026-05-30T09:40:00Z' });
  });

  it.each([
    ['an instance starting', stateChange('pending')],
    ['an instance running', stateChange('running')],
    ['a command still in progress', commandEnded('InProgress')],
  ])('%s ends nothing, and reads nothing', async (_what, event) => {
    // Act
    const result = await handler(event);

    // Assess
    expect(result.woke).toBe(false);
    expect(s3).not.toHaveReceivedCommand(GetObjectCommand);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it('an instance no phase of this pipeline waits for (another pipeline\'s, or none waiting) is ignored', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }));

    // Act: (spot's warning is looked for a few times: the workload's first wait may be being set up)
    const pending = handler(warning());
    await vi.runAllTimersAsync();
    const result = await pending;

    // Assess
    expect(result).toEqual({ woke: false, instanceId: INSTANCE, why: 'no phase waits for this instance' });
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  });

  it('a token whose wait just ended (TaskTimedOut) is read again, and the next wait\'s token is woken', async () => {
    // Prepare: the poll came first; a moment later the next wait stores its own token.
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    s3.on(GetObjectCommand).resolvesOnce(token('token-old')).resolves(token('token-new'));
    sfn.on(SendTaskSuccessCommand, { taskToken: 'token-old' }).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: { httpStatusCode: 400 } }));

    // Act
    const pending = handler(commandEnded('Success'));
    await vi.runAllTimersAsync();
    const result = await pending;

    // Assess
    expect(result).toEqual({ woke: true, instanceId: INSTANCE });
    expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input.taskToken)).toEqual(['token-old', 'token-new']);
  });

  it('a stale token that stays stale after the command ended: given up after a few looks, never an error (the phase moved on)', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    s3.on(GetObjectCommand).callsFake(() => token('token-old'));
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: { httpStatusCode: 400 } }));

    // Act
    const pending = handler(commandEnded('Success'));
    await vi.runAllTimersAsync();
    const result = await pending;

    // Assess
    expect(result).toEqual({ woke: false, instanceId: INSTANCE, why: 'the wait had already ended' });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(STALE_TOKEN_LOOKS);
  });

  it('spot\'s warning meeting only a stale token for half a minute (the phase busy between two waits): thrown, for Lambda to retry it in a minute', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    s3.on(GetObjectCommand).callsFake(() => token('token-old'));
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: { httpStatusCode: 400 } }));

    // Act
    const pending = handler(warning()).catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    const err = await pending;

    // Assess
    expect(err).toBeInstanceOf(WaitNotFoundYet);
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(WARNING_LOOKS);
  });

  it('spot\'s warning before the workload\'s first wait stored its token: looked for again, and woken once it is there', async () => {
    // Prepare
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    s3.on(GetObjectCommand)
      .rejectsOnce(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }))
      .resolves(token('token-first'));

    // Act
    const pending = handler(warning());
    await vi.runAllTimersAsync();
    const result = await pending;

    // Assess
    expect(result).toEqual({ woke: true, instanceId: INSTANCE });
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.taskToken).toBe('token-first');
  });

  it('a rebalance recommendation wakes nobody; the pool memory keeps it against the instance\'s pool', async () => {
    // Prepare
    s3.on(GetObjectCommand).resolves(token('token-1', 'm5.large/subnet-2a3b4c5d'));
    s3.on(PutObjectCommand).resolves({});

    // Act
    const result = await handler(rebalance());

    // Assess
    expect(result.woke).toBe(false);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input.Key).toMatch(/^saturday-pipeline\/pools\/m5\.large\/subnet-2a3b4c5d\/20260530T094000Z_rebalance_[0-9a-f]{16}$/);
  });

  it('an event that is not about an instance is ignored, not an error', async () => {
    // Act
    const result = await handler({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} });

    // Assess
    expect(result.woke).toBe(false);
    expect(s3).not.toHaveReceivedCommand(GetObjectCommand);
  });
});
