/**
 * The events EC2 and SSM send to the simulated EventBridge, against AWS's documented behaviour, on a
 * fake clock, with a hand-made template whose one rule targets a recording Lambda function: the spot
 * interruption warning at the notice (never for an instance terminated before it), instance state
 * changes (pending, running, terminated), command invocation status changes (InProgress, then
 * Success, Failed, Cancelled, or Failed when the instance is reclaimed), each in the documented
 * envelope and delivered a second later; the scenario's lostEvents loses a detail-type (and is
 * validated); event patterns with content filters match as EventBridge's do, and a filter the
 * simulator lacks is refused when the rule is deployed.
 */
import FakeTimers from '@sinonjs/fake-timers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TAG } from '../../contract/tags';
import { matchesPattern, SimulatedEventBus } from '../../simulator/event-bus';
import type { SimulatedLambda } from '../../simulator/lambda-runtime';
import { parseScenario, ScenarioError } from '../../simulator/scenario';
import { handleCall } from '../../simulator/services';
import { SimulatedAccount } from '../../simulator/services/account';
import type { AwsEvent } from '../../simulator/services/events';
import type { SimulatedStepFunctions } from '../../simulator/step-functions';
import type { CfnTemplate } from '../../simulator/template';

const ACCOUNT = '123456789012';
const LISTENER = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:listener`;
const START = Date.parse('2026-05-30T09:00:00Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const WARNING = 'EC2 Spot Instance Interruption Warning';
const STATE_CHANGE = 'EC2 Instance State-change Notification';
const COMMAND = 'EC2 Command Invocation Status-change Notification';

const arnOf = (id: string) => `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/${id}`;
/** An event's `time`: to the second, as in AWS's examples. */
const timeOf = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A template with one rule, its pattern given, targeting the function `listener`. */
function template(pattern: Record<string, unknown>): CfnTemplate {
  return { Resources: { Rule: { Type: 'AWS::Events::Rule', Properties: { EventPattern: pattern, Targets: [{ Arn: LISTENER, Id: 'listener' }] } } } };
}

/** An account wired to a bus whose rule (this pattern) delivers to a function recording what it gets, and when. */
function setUp(scenario: Record<string, unknown>, pattern: Record<string, unknown>) {
  const received: { at: number; event: AwsEvent }[] = [];
  const lambda = {
    has: (arn: string) => arn === LISTENER,
    nameOf: () => 'listener',
    invoke: async (_arn: string, event: unknown) => {
      received.push({ at: Date.now(), event: event as AwsEvent });
      return null;
    },
  } as unknown as SimulatedLambda;
  const bus = new SimulatedEventBus(template(pattern), lambda);
  const account = new SimulatedAccount({
    scenario: parseScenario(scenario),
    subnetZones: new Map([['subnet-a', 'us-east-1a']]),
    launchTemplates: new Map([['lt-0', {}]]),
    stepFunctions: {} as SimulatedStepFunctions,
  });
  account.events = (event) => bus.publish(event);
  const call = (service: string, operation: string, input: Record<string, unknown>) => handleCall(account, service, operation, input);
  /** A spot instance of phase Train, this attempt (its plan: the scenario's attempts[attempt - 1]). */
  const launch = async (attempt = 1): Promise<string> => {
    const answer = (await call('EC2', 'RunInstances', {
      LaunchTemplate: { LaunchTemplateId: 'lt-0' },
      InstanceType: 'c5.large',
      SubnetId: 'subnet-a',
      InstanceMarketOptions: { MarketType: 'spot' },
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: TAG.phase, Value: 'Train' }, { Key: TAG.attempt, Value: String(attempt) }] }],
    })) as { Instances: { InstanceId: string }[] };
    return answer.Instances[0]!.InstanceId;
  };
  const send = async (instanceId: string): Promise<string> => {
    const answer = (await call('SSM', 'SendCommand', { DocumentName: 'AWS-RunShellScript', InstanceIds: [instanceId], Parameters: { commands: ['/opt/train.sh'], executionTimeout: ['7200'] } })) as { Command: { CommandId: string } };
    return answer.Command.CommandId;
  };
  return { account, bus, received, call, launch, send };
}

let clock: ReturnType<typeof FakeTimers.install>;
beforeEach(() => {
  clock = FakeTimers.install({ now: START, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});
afterEach(() => {
  clock.uninstall();
});

/** Let virtual time run `ms` forward, every promise settling on the way. */
async function advance(ms: number): Promise<void> {
  await clock.tickAsync(ms);
  await new Promise<void>((r) => setImmediate(r));
}

describe('EC2 Spot Instance Interruption Warning', () => {
  const interruptedAfter10 = { phases: { Train: { attempts: [{ interruptAfterLaunchMinutes: 10 }] } } };
  const warnings = { source: ['aws.ec2'], 'detail-type': [WARNING] };

  it('arrives at the notice (set at launch for a later moment) plus the delivery delay, in the documented shape', async () => {
    // Prepare
    const { launch, received } = setUp(interruptedAfter10, warnings);
    const id = await launch();

    // Act
    await advance(15 * MINUTE);

    // Assess
    expect(received).toHaveLength(1);
    const [{ at, event }] = received as [{ at: number; event: AwsEvent }];
    expect(at).toBe(START + 10 * MINUTE + SECOND);
    expect(event).toEqual({
      version: '0',
      id: expect.stringMatching(UUID) as unknown,
      'detail-type': WARNING,
      source: 'aws.ec2',
      account: ACCOUNT,
      time: timeOf(START + 10 * MINUTE),
      region: 'us-east-1',
      resources: [arnOf(id)],
      detail: { 'instance-id': id, 'instance-action': 'terminate' },
    });
  });

  it('comes at the notice a workload start schedules (interruptAtMinute, set by SendCommand)', async () => {
    const { launch, send, received } = setUp({ phases: { Train: { attempts: [{ interruptAtMinute: 7 }] } } }, warnings);
    const id = await launch();
    await advance(2 * MINUTE);
    await send(id);
    await advance(20 * MINUTE);
    expect(received.map((r) => [r.at, r.event.detail['instance-id']])).toEqual([[START + 9 * MINUTE + SECOND, id]]);
  });

  it('never comes for an instance terminated before its notice', async () => {
    const { launch, call, received, account } = setUp(interruptedAfter10, warnings);
    const id = await launch();
    await advance(5 * MINUTE);
    await call('EC2', 'TerminateInstances', { InstanceIds: [id] });
    await advance(30 * MINUTE);
    expect(received).toEqual([]);
    expect(account.emittedEvents.map((e) => e.event['detail-type'])).not.toContain(WARNING);
  });

  it('a scenario with lostEvents loses it (and only it): it never reaches EventBridge', async () => {
    // Prepare
    const { launch, received, account } = setUp({ ...interruptedAfter10, lostEvents: [WARNING] }, { source: ['aws.ec2'] });
    const id = await launch();

    // Act
    await advance(15 * MINUTE);

    // Assess: the state changes arrive; the warning was sent and lost.
    expect(received.map((r) => [r.event['detail-type'], r.event.detail.state])).toEqual([
      [STATE_CHANGE, 'pending'],
      [STATE_CHANGE, 'running'],
      [STATE_CHANGE, 'terminated'],
    ]);
    expect(account.emittedEvents.filter((e) => e.lost).map((e) => [e.event['detail-type'], e.event.detail['instance-id']])).toEqual([[WARNING, id]]);
  });
});

describe('EC2 Instance State-change Notification', () => {
  const stateChanges = { source: ['aws.ec2'], 'detail-type': [STATE_CHANGE] };

  it('pending at launch, running when DescribeInstances first says so, terminated when TerminateInstances returns', async () => {
    // Prepare
    const { launch, call, received } = setUp({}, stateChanges);
    const id = await launch();
    const stateAt = async () => ((await call('EC2', 'DescribeInstances', { InstanceIds: [id] })) as { Reservations: { Instances: { State: { Name: string } }[] }[] }).Reservations[0]!.Instances[0]!.State.Name;

    // Act
    await advance(29 * SECOND);
    const before = await stateAt();
    await advance(1 * SECOND);
    const after = await stateAt();
    await advance(10 * MINUTE);
    await call('EC2', 'TerminateInstances', { InstanceIds: [id] });
    await advance(MINUTE);

    // Assess
    expect([before, after]).toEqual(['pending', 'running']);
    expect(received.map((r) => [r.at - START, r.event.detail])).toEqual([
      [SECOND, { 'instance-id': id, state: 'pending' }],
      [30 * SECOND + SECOND, { 'instance-id': id, state: 'running' }],
      [10 * MINUTE + 30 * SECOND + SECOND, { 'instance-id': id, state: 'terminated' }],
    ]);
    expect(received[2]!.event).toMatchObject({ version: '0', source: 'aws.ec2', account: ACCOUNT, region: 'us-east-1', resources: [arnOf(id)], time: timeOf(START + 10 * MINUTE + 30 * SECOND) });
  });

  it('a spot instance reclaimed two minutes after its notice reports terminated then; one terminated while pending never reports running', async () => {
    const { launch, call, received } = setUp({ phases: { Train: { attempts: [{ interruptAfterLaunchMinutes: 10 }, {}] } } }, stateChanges);
    const reclaimed = await launch(1);
    const early = await launch(2);
    await advance(10 * SECOND);
    await call('EC2', 'TerminateInstances', { InstanceIds: [early] });
    await advance(20 * MINUTE);
    const states = (id: string) => received.filter((r) => r.event.detail['instance-id'] === id).map((r) => [r.event.detail.state, r.at - START]);
    expect(states(reclaimed)).toEqual([
      ['pending', SECOND],
      ['running', 31 * SECOND],
      ['terminated', 12 * MINUTE + SECOND],
    ]);
    expect(states(early)).toEqual([
      ['pending', SECOND],
      ['terminated', 11 * SECOND],
    ]);
  });

  it('an account nobody listens to watches nothing (no event, no timer)', async () => {
    const account = new SimulatedAccount({ scenario: parseScenario({}), subnetZones: new Map([['subnet-a', 'us-east-1a']]), launchTemplates: new Map([['lt-0', {}]]), stepFunctions: {} as SimulatedStepFunctions });
    await handleCall(account, 'EC2', 'RunInstances', { LaunchTemplate: { LaunchTemplateId: 'lt-0' }, InstanceType: 'c5.large', SubnetId: 'subnet-a' });
    expect(account.instances).toHaveLength(1);
    expect(account.emittedEvents).toEqual([]);
    expect(clock.countTimers()).toBe(0);
  });
});

describe('EC2 Command Invocation Status-change Notification', () => {
  it('InProgress when sent, then Success, Failed (exit code), Cancelled (CancelCommand) or Failed (instance reclaimed), in the documented shape', async () => {
    // Prepare: four instances of phase Train; the workload runs 20 minutes; attempt 2 exits 3; attempt 4's instance is reclaimed 5 minutes in.
    const scenario = { phases: { Train: { workloadMinutes: 20, attempts: [{}, { exitCode: 3 }, {}, { interruptAtMinute: 5 }] } } };
    const { launch, send, call, received } = setUp(scenario, { source: ['aws.ssm'], 'detail-type': [COMMAND] });
    const ids = [await launch(1), await launch(2), await launch(3), await launch(4)];
    await advance(2 * MINUTE);
    const sentAt = Date.now();
    const commands = [await send(ids[0]!), await send(ids[1]!), await send(ids[2]!), await send(ids[3]!)];

    // Act
    await advance(3 * MINUTE);
    await call('SSM', 'CancelCommand', { CommandId: commands[2] });
    await advance(30 * MINUTE);

    // Assess
    const of = (i: number) => received.filter((r) => r.event.detail['command-id'] === commands[i]).map((r) => [r.event.detail.status, r.at - sentAt]);
    expect(of(0)).toEqual([
      ['InProgress', SECOND],
      ['Success', 20 * MINUTE + SECOND],
    ]);
    expect(of(1)).toEqual([
      ['InProgress', SECOND],
      ['Failed', 20 * MINUTE + SECOND],
    ]);
    expect(of(2)).toEqual([
      ['InProgress', SECOND],
      ['Cancelled', 3 * MINUTE + SECOND],
    ]);
    expect(of(3)).toEqual([
      ['InProgress', SECOND],
      ['Failed', 7 * MINUTE + SECOND],
    ]);
    const success = received.find((r) => r.event.detail.status === 'Success')!.event;
    expect(success).toEqual({
      version: '0',
      id: expect.stringMatching(UUID) as unknown,
      'detail-type': COMMAND,
      source: 'aws.ssm',
      account: ACCOUNT,
      time: timeOf(sentAt + 20 * MINUTE),
      region: 'us-east-1',
      resources: [arnOf(ids[0]!)],
      detail: { 'command-id': commands[0], 'document-name': 'AWS-RunShellScript', 'instance-id': ids[0], 'requested-date-time': new Date(sentAt).toISOString(), status: 'Success' },
    });
  });

  it('a rule on terminal statuses (detail.status) gets only those', async () => {
    const { launch, send, received } = setUp({ phases: { Train: { workloadMinutes: 5 } } }, { source: ['aws.ssm'], detail: { status: ['Success', 'Failed', 'TimedOut', 'Cancelled'] } });
    const id = await launch();
    await advance(2 * MINUTE);
    await send(id);
    await advance(10 * MINUTE);
    expect(received.map((r) => r.event.detail.status)).toEqual(['Success']);
  });
});

describe('event patterns', () => {
  const event = {
    source: 'aws.ec2',
    'detail-type': WARNING,
    resources: [arnOf('i-0abc'), 'arn:aws:ec2:us-east-1:123456789012:volume/vol-1'],
    detail: { 'instance-id': 'i-0abc', 'instance-action': 'terminate', attempt: 3, state: null },
  };

  it('matches values, arrays, and the content filters prefix, suffix, equals-ignore-case, anything-but, exists and numeric', () => {
    const matches = (pattern: Record<string, unknown>) => matchesPattern(pattern, event);
    expect(matches({ source: ['aws.ec2'], detail: { 'instance-id': [{ prefix: 'i-0' }] } })).toBe(true);
    expect(matches({ resources: [{ suffix: 'vol-1' }] })).toBe(true);
    expect(matches({ 'detail-type': [{ 'equals-ignore-case': 'ec2 spot instance interruption warning' }] })).toBe(true);
    expect(matches({ detail: { 'instance-action': [{ 'anything-but': ['stop', 'hibernate'] }] } })).toBe(true);
    expect(matches({ detail: { 'instance-action': [{ 'anything-but': 'terminate' }] } })).toBe(false);
    expect(matches({ detail: { 'instance-action': [{ 'anything-but': { prefix: 'term' } }] } })).toBe(false);
    expect(matches({ detail: { missing: [{ 'anything-but': 'x' }] } })).toBe(false);
    expect(matches({ detail: { 'instance-id': [{ exists: true }], missing: [{ exists: false }] } })).toBe(true);
    expect(matches({ detail: { missing: [{ exists: true }] } })).toBe(false);
    expect(matches({ detail: { attempt: [{ numeric: ['>', 2, '<=', 3] }] } })).toBe(true);
    expect(matches({ detail: { attempt: [{ numeric: ['>=', 4] }] } })).toBe(false);
    expect(matches({ detail: { state: [null] } })).toBe(true);
    expect(matches({ detail: { 'instance-id': [{ prefix: 'i-9' }, 'i-0abc'] } })).toBe(true);
    expect(matches({ source: ['aws.ssm'] })).toBe(false);
  });

  it('refuses a filter it does not simulate: when matching, and when the rule is deployed (naming the rule)', () => {
    expect(() => matchesPattern({ detail: { 'instance-id': [{ wildcard: 'i-*' }] } }, event)).toThrow(/content filter \{"wildcard":"i-\*"\} is not simulated/);
    expect(() => matchesPattern({ $or: [{ source: ['aws.ec2'] }] }, event)).toThrow(/not simulated/);
    const lambda = { has: () => true, nameOf: () => 'listener', invoke: async () => null } as unknown as SimulatedLambda;
    expect(() => new SimulatedEventBus(template({ source: ['aws.ec2'], detail: { 'source-ip': [{ cidr: '10.0.0.0/8' }] } }), lambda)).toThrow(/rule Rule: EventBridge content filter \{"cidr":"10\.0\.0\.0\/8"\} is not simulated/);
  });
});

describe('scenario lostEvents', () => {
  it('accepts the detail-types the account sends and refuses another value or shape, naming the field', () => {
    expect(parseScenario({ lostEvents: [WARNING, STATE_CHANGE, COMMAND] }).lostEvents).toEqual([WARNING, STATE_CHANGE, COMMAND]);
    const refusal = (raw: unknown) => {
      try {
        parseScenario(raw);
      } catch (err) {
        expect(err).toBeInstanceOf(ScenarioError);
        return (err as Error).message;
      }
      throw new Error(`accepted: ${JSON.stringify(raw)}`);
    };
    expect(refusal({ lostEvents: [WARNING, 'EC2 Spot Instance Interruption Warnings'] })).toContain(`lostEvents[1]: must be one of: "${STATE_CHANGE}", "${WARNING}", "${COMMAND}"`);
    expect(refusal({ lostEvents: WARNING })).toContain('lostEvents: must be a list of event detail-types');
    expect(refusal({ lostEvent: [WARNING] })).toContain('Unrecognized key: "lostEvent"');
  });
});
