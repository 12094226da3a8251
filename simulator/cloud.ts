/**
 * The simulated AWS cloud: EC2 spot capacity pools, instances and spot requests, the SSM agent
 * and commands, CloudWatch metrics and the workload's CloudWatch Logs. Everything runs on the
 * process clock (faked by the simulator), and everything is computed from what the pipeline
 * asked for (its tags, its commands) and the scenario's plan: no product code tells it anything.
 */
import { poolMatches, type AttemptPlan, type PhasePlan, type Scenario } from './scenario';

/** An AWS service error, shaped as the SDK throws them (the code is the error's name). */
export class SimulatedAwsError extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $fault: 'client' | 'server';
  constructor(code: string, message: string, httpStatusCode = 400) {
    super(message);
    this.name = code;
    this.$metadata = { httpStatusCode };
    this.$fault = httpStatusCode >= 500 ? 'server' : 'client';
  }
}

const MINUTE = 60_000;
const DEFAULT_INTERRUPTION_STATUS = 'instance-terminated-no-capacity';
const DEFAULT_INTERRUPTION_REASON = 'Server.SpotInstanceTermination';
/** A spot notice gives the instance two more minutes. */
const NOTICE_MS = 2 * MINUTE;
/** From launch until EC2 reports the instance running. */
const PENDING_MS = 30_000;

export interface SimInstance {
  readonly id: string;
  readonly spotRequestId: string;
  readonly instanceType: string;
  readonly subnetId: string;
  readonly availabilityZone: string;
  readonly tags: Record<string, string>;
  readonly launchedAt: number;
  readonly agentOnlineAt: number;
  readonly phase: string;
  readonly attempt: number;
  readonly plan: AttemptPlan;
  terminatedAt?: number;
  stateReason?: string;
  /** When the spot notice arrives (set once a workload starts on an interruption plan). */
  noticeAt?: number;
  spotStatusAfterNotice?: string | null;
  stateReasonAfterInterruption?: string | null;
  terminatedBy?: 'pipeline' | 'spot';
}

export interface SimInvocation {
  readonly commandId: string;
  readonly instanceId: string;
  readonly phase: string;
  readonly attempt: number;
  readonly mode: 'full' | 'preflight';
  readonly startedAt: number;
  readonly executionTimeoutMs: number;
  readonly durationMs: number;
  readonly exitCode: number;
  readonly hang: boolean;
  readonly commands: string[];
  cancelledAt?: number;
}

export interface SimMetricDatum {
  readonly namespace: string;
  readonly name: string;
  readonly value: number;
  readonly dimensions: Record<string, string>;
  readonly at: number;
}

export interface LaunchRefusal {
  readonly phase: string;
  readonly attempt: number;
  readonly pool: string;
  readonly code: string;
  readonly at: number;
}

export interface CloudOptions {
  readonly scenario: Scenario;
  /** Availability zone of every subnet the pipeline may launch into. */
  readonly subnetZones: ReadonlyMap<string, string>;
  readonly launchTemplateId: string;
}

type Filter = { Name?: string; Values?: string[] };

export class SimulatedCloud {
  readonly instances: SimInstance[] = [];
  readonly invocations: SimInvocation[] = [];
  readonly metrics: SimMetricDatum[] = [];
  readonly refusals: LaunchRefusal[] = [];
  /** Every API call the pipeline made, by "Service.Operation". */
  readonly calls = new Map<string, number>();
  private readonly tokens = new Map<string, SimInstance>();
  /** API calls answered with a throttling error (scenario "throttle"). */
  throttled = 0;
  private seq = 0;

  constructor(private readonly options: CloudOptions) {}

  private now(): number {
    return Date.now();
  }

  private nextId(prefix: string, length: number): string {
    this.seq += 1;
    return `${prefix}${this.seq.toString(16).padStart(length, '0')}`;
  }

  private phasePlan(phase: string): PhasePlan {
    return this.options.scenario.phases?.[phase] ?? {};
  }

  /** Per phase, the executions that launched for it, in order, with their highest attempt. */
  private readonly phaseExecutions = new Map<string, Map<string, number>>();

  /**
   * The plan of a launch attempt. attempts[k] of a phase is its (k+1)-th launch attempt over the
   * whole run: in one execution that is attempt k+1; a redriven phase (a new execution) goes on
   * counting from the attempts its earlier executions made.
   */
  private attemptPlan(phase: string, executionArn: string, attempt: number): AttemptPlan {
    const executions = this.phaseExecutions.get(phase) ?? new Map<string, number>();
    this.phaseExecutions.set(phase, executions);
    executions.set(executionArn, Math.max(executions.get(executionArn) ?? 0, attempt));
    let before = 0;
    for (const [arn, highest] of executions) {
      if (arn === executionArn) break;
      before += highest;
    }
    return this.phasePlan(phase).attempts?.[before + attempt - 1] ?? {};
  }

  // ----- dispatch ---------------------------------------------------------------------------

  /** Handle one SDK command, as the service would. */
  async handle(service: string, operation: string, input: Record<string, unknown>): Promise<unknown> {
    const key = `${service}.${operation}`;
    const calls = (this.calls.get(key) ?? 0) + 1;
    this.calls.set(key, calls);
    if (calls <= (this.options.scenario.throttle?.[key] ?? 0)) {
      this.throttled += 1;
      throw new SimulatedAwsError(service === 'EC2' ? 'RequestLimitExceeded' : 'ThrottlingException', `Rate exceeded (${key})`);
    }
    const fn = (this as unknown as Record<string, ((i: Record<string, unknown>) => unknown) | undefined>)[`${service}_${operation}`];
    if (typeof fn !== 'function') {
      throw new SimulatedAwsError('UnsupportedOperation', `the simulated cloud does not implement ${key}`);
    }
    return fn.call(this, input);
  }

  // ----- EC2 --------------------------------------------------------------------------------

  /** The instance's state at this moment. */
  stateOf(instance: SimInstance, now = this.now()): string {
    this.settle(instance, now);
    if (instance.terminatedAt !== undefined && now >= instance.terminatedAt) return 'terminated';
    return now - instance.launchedAt < PENDING_MS ? 'pending' : 'running';
  }

  /** Apply a due spot reclamation: two minutes after the notice, the instance is gone. */
  private settle(instance: SimInstance, now: number): void {
    if (instance.terminatedAt === undefined && instance.noticeAt !== undefined && now >= instance.noticeAt + NOTICE_MS) {
      instance.terminatedAt = instance.noticeAt + NOTICE_MS;
      instance.terminatedBy = 'spot';
      instance.stateReason = instance.stateReasonAfterInterruption ?? undefined;
    }
  }

  spotStatusOf(instance: SimInstance, now = this.now()): string {
    this.settle(instance, now);
    if (instance.noticeAt !== undefined && now >= instance.noticeAt && instance.spotStatusAfterNotice) return instance.spotStatusAfterNotice;
    if (instance.terminatedBy === 'pipeline') return 'instance-terminated-by-user';
    return 'fulfilled';
  }

  poolOf(instance: Pick<SimInstance, 'instanceType' | 'availabilityZone'>): string {
    return `${instance.instanceType}/${instance.availabilityZone}`;
  }

  protected EC2_RunInstances(input: Record<string, unknown>): unknown {
    const token = input.ClientToken as string | undefined;
    if (token && this.tokens.has(token)) return { Instances: [this.describe(this.tokens.get(token)!)] };
    const lt = (input.LaunchTemplate ?? {}) as { LaunchTemplateId?: string };
    if (lt.LaunchTemplateId !== this.options.launchTemplateId) {
      throw new SimulatedAwsError('InvalidLaunchTemplateId.NotFound', `launch template ${lt.LaunchTemplateId} does not exist`);
    }
    const subnetId = String(input.SubnetId);
    const availabilityZone = this.options.subnetZones.get(subnetId);
    if (!availabilityZone) throw new SimulatedAwsError('InvalidSubnetID.NotFound', `subnet ${subnetId} does not exist`);
    const instanceType = String(input.InstanceType);
    const specs = (input.TagSpecifications ?? []) as { ResourceType?: string; Tags?: { Key?: string; Value?: string }[] }[];
    const tags = Object.fromEntries((specs.find((s) => s.ResourceType === 'instance')?.Tags ?? []).map((t) => [t.Key!, t.Value!]));
    const phase = tags['spot-pipeline:phase'] ?? '?';
    const attempt = Number(tags['spot-pipeline:attempt'] ?? 1);
    const plan = this.attemptPlan(phase, tags['spot-pipeline:execution'] ?? '?', attempt);
    const pool = `${instanceType}/${availabilityZone}`;
    if ((plan.unavailable ?? []).some((p) => poolMatches(p, pool))) {
      const code = plan.capacityError ?? 'InsufficientInstanceCapacity';
      this.refusals.push({ phase, attempt, pool, code, at: this.now() });
      throw new SimulatedAwsError(code, `There is no Spot capacity available that matches your request (${pool}).`);
    }
    const now = this.now();
    const instance: SimInstance = {
      id: this.nextId('i-0', 16),
      spotRequestId: this.nextId('sir-', 8),
      instanceType,
      subnetId,
      availabilityZone,
      tags,
      launchedAt: now,
      agentOnlineAt: now + (this.options.scenario.bootMinutes ?? 2) * MINUTE,
      phase,
      attempt,
      plan,
    };
    this.instances.push(instance);
    if (token) this.tokens.set(token, instance);
    return { Instances: [this.describe(instance)] };
  }

  private describe(instance: SimInstance) {
    const state = this.stateOf(instance);
    return {
      InstanceId: instance.id,
      InstanceType: instance.instanceType,
      SubnetId: instance.subnetId,
      Placement: { AvailabilityZone: instance.availabilityZone },
      SpotInstanceRequestId: instance.spotRequestId,
      InstanceLifecycle: 'spot',
      State: { Name: state, Code: state === 'terminated' ? 48 : state === 'running' ? 16 : 0 },
      StateReason: state === 'terminated' && instance.stateReason ? { Code: instance.stateReason, Message: instance.stateReason } : undefined,
      Tags: Object.entries(instance.tags).map(([Key, Value]) => ({ Key, Value })),
      LaunchTime: new Date(instance.launchedAt),
    };
  }

  private byId(id: string): SimInstance {
    const instance = this.instances.find((i) => i.id === id);
    if (!instance) throw new SimulatedAwsError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    return instance;
  }

  protected EC2_DescribeInstances(input: Record<string, unknown>): unknown {
    const ids = input.InstanceIds as string[] | undefined;
    const filters = (input.Filters ?? []) as Filter[];
    let found = ids && ids.length > 0 ? ids.map((id) => this.byId(id)) : [...this.instances];
    for (const f of filters) {
      const values = f.Values ?? [];
      if (f.Name === 'instance-state-name') found = found.filter((i) => values.includes(this.stateOf(i)));
      else if (f.Name?.startsWith('tag:')) {
        const key = f.Name.slice(4);
        found = found.filter((i) => i.tags[key] !== undefined && values.includes(i.tags[key]!));
      } else if (f.Name) throw new SimulatedAwsError('InvalidParameterValue', `filter ${f.Name} is not simulated`);
    }
    return { Reservations: found.map((i) => ({ Instances: [this.describe(i)] })) };
  }

  protected EC2_DescribeSpotInstanceRequests(input: Record<string, unknown>): unknown {
    const ids = (input.SpotInstanceRequestIds ?? []) as string[];
    return {
      SpotInstanceRequests: ids.map((id) => {
        const instance = this.instances.find((i) => i.spotRequestId === id);
        if (!instance) throw new SimulatedAwsError('InvalidSpotInstanceRequestID.NotFound', `The spot instance request ID '${id}' does not exist`);
        const code = this.spotStatusOf(instance);
        return { SpotInstanceRequestId: id, InstanceId: instance.id, State: code === 'fulfilled' ? 'active' : 'closed', Status: { Code: code } };
      }),
    };
  }

  protected EC2_TerminateInstances(input: Record<string, unknown>): unknown {
    const ids = (input.InstanceIds ?? []) as string[];
    const instances = ids.map((id) => this.byId(id));
    const now = this.now();
    return {
      TerminatingInstances: instances.map((instance) => {
        const previous = this.stateOf(instance, now);
        if (instance.terminatedAt === undefined) {
          instance.terminatedAt = now;
          instance.terminatedBy = 'pipeline';
          instance.stateReason = 'Client.UserInitiatedShutdown';
        }
        return { InstanceId: instance.id, PreviousState: { Name: previous }, CurrentState: { Name: 'terminated' } };
      }),
    };
  }

  // ----- SSM --------------------------------------------------------------------------------

  protected SSM_DescribeInstanceInformation(input: Record<string, unknown>): unknown {
    const filters = (input.Filters ?? []) as { Key?: string; Values?: string[] }[];
    const ids = filters.find((f) => f.Key === 'InstanceIds')?.Values ?? [];
    const now = this.now();
    const online = this.instances.filter((i) => ids.includes(i.id) && this.stateOf(i, now) === 'running' && now >= i.agentOnlineAt);
    return { InstanceInformationList: online.map((i) => ({ InstanceId: i.id, PingStatus: 'Online', PlatformType: 'Linux' })) };
  }

  protected SSM_SendCommand(input: Record<string, unknown>): unknown {
    if (input.DocumentName !== 'AWS-RunShellScript') throw new SimulatedAwsError('InvalidDocument', `document ${String(input.DocumentName)} is not simulated`);
    const [instanceId] = (input.InstanceIds ?? []) as string[];
    const instance = this.instances.find((i) => i.id === instanceId);
    const now = this.now();
    if (!instance || this.stateOf(instance, now) !== 'running' || now < instance.agentOnlineAt) {
      throw new SimulatedAwsError('InvalidInstanceId', `Instances [${instanceId}] not in a valid state for account ${'123456789012'}`);
    }
    const params = (input.Parameters ?? {}) as { commands?: string[]; executionTimeout?: string[] };
    const commands = params.commands ?? [];
    const mode = commands.some((c) => c === "export PIPELINE_MODE='preflight'") ? 'preflight' : 'full';
    const phasePlan = this.phasePlan(instance.phase);
    const plan = instance.plan;
    const invocation: SimInvocation = {
      commandId: this.nextId('cmd-', 12),
      instanceId: instance.id,
      phase: instance.phase,
      attempt: instance.attempt,
      mode,
      startedAt: now,
      executionTimeoutMs: Number(params.executionTimeout?.[0] ?? 3600) * 1000,
      durationMs: (mode === 'preflight' ? (this.options.scenario.preflightMinutes ?? 1) : (phasePlan.workloadMinutes ?? 30)) * MINUTE,
      exitCode: mode === 'preflight' ? 0 : (plan.exitCode ?? phasePlan.exitCode ?? 0),
      hang: mode === 'full' && plan.hang === true,
      commands,
    };
    this.invocations.push(invocation);
    if (plan.interruptAtMinute !== undefined && instance.noticeAt === undefined) {
      instance.noticeAt = now + plan.interruptAtMinute * MINUTE;
      instance.spotStatusAfterNotice = plan.spotStatus === undefined ? DEFAULT_INTERRUPTION_STATUS : plan.spotStatus;
      instance.stateReasonAfterInterruption = plan.stateReason === undefined ? DEFAULT_INTERRUPTION_REASON : plan.stateReason;
    }
    return { Command: { CommandId: invocation.commandId, DocumentName: 'AWS-RunShellScript', Status: 'Pending' } };
  }

  private invocation(commandId: string, instanceId: string): SimInvocation {
    const found = this.invocations.find((i) => i.commandId === commandId && i.instanceId === instanceId);
    if (!found) throw new SimulatedAwsError('InvocationDoesNotExist', 'An error occurred (InvocationDoesNotExist)');
    return found;
  }

  /** Status, exit code and end time of an invocation at this moment. */
  invocationStatus(inv: SimInvocation, now = this.now()): { status: string; responseCode: number; endedAt?: number } {
    const instance = this.byId(inv.instanceId);
    this.settle(instance, now);
    const finishAt = inv.hang ? Infinity : inv.startedAt + inv.durationMs;
    const timeoutAt = inv.startedAt + inv.executionTimeoutMs;
    const lostAt = instance.terminatedAt ?? Infinity;
    const cancelAt = inv.cancelledAt ?? Infinity;
    const first = Math.min(finishAt, timeoutAt, lostAt, cancelAt);
    if (now < first) return { status: 'InProgress', responseCode: -1 };
    if (first === finishAt) return { status: inv.exitCode === 0 ? 'Success' : 'Failed', responseCode: inv.exitCode, endedAt: first };
    if (first === cancelAt) return { status: 'Cancelled', responseCode: -1, endedAt: first };
    if (first === timeoutAt) return { status: 'TimedOut', responseCode: -1, endedAt: first };
    return { status: 'Failed', responseCode: -1, endedAt: first };
  }

  /** The lines the workload printed up to now: one at start, one a minute, one at its end. */
  outputLines(inv: SimInvocation, now = this.now()): { at: number; line: string }[] {
    const { endedAt } = this.invocationStatus(inv, now);
    const until = Math.min(now, endedAt ?? now);
    const label = inv.mode === 'preflight' ? 'preflight' : 'workload';
    const lines = [{ at: inv.startedAt, line: `${inv.phase} ${label} started (attempt ${inv.attempt})` }];
    if (inv.hang) return lines;
    const total = Math.max(1, Math.round(inv.durationMs / MINUTE));
    for (let m = 1; inv.startedAt + m * MINUTE <= until && m < total; m++) {
      lines.push({ at: inv.startedAt + m * MINUTE, line: `${inv.phase} ${label}: minute ${m} of ${total}` });
    }
    if (endedAt !== undefined && endedAt === inv.startedAt + inv.durationMs) {
      lines.push({ at: endedAt, line: inv.exitCode === 0 ? `${inv.phase} ${label} done` : `${inv.phase} ${label} failed: exit ${inv.exitCode}` });
    }
    return lines;
  }

  protected SSM_GetCommandInvocation(input: Record<string, unknown>): unknown {
    const inv = this.invocation(String(input.CommandId), String(input.InstanceId));
    const { status, responseCode } = this.invocationStatus(inv);
    const lost = responseCode === -1 && status === 'Failed';
    return {
      CommandId: inv.commandId,
      InstanceId: inv.instanceId,
      Status: status,
      StatusDetails: lost ? 'Undeliverable' : status,
      ResponseCode: responseCode,
      StandardOutputContent: lost ? '' : this.outputLines(inv).map((l) => l.line).join('\n'),
      StandardErrorContent: '',
    };
  }

  protected SSM_CancelCommand(input: Record<string, unknown>): unknown {
    const ids = (input.InstanceIds ?? []) as string[];
    const now = this.now();
    for (const inv of this.invocations.filter((i) => i.commandId === input.CommandId && (ids.length === 0 || ids.includes(i.instanceId)))) {
      if (this.invocationStatus(inv, now).status === 'InProgress' && inv.cancelledAt === undefined) inv.cancelledAt = now;
    }
    return {};
  }

  // ----- CloudWatch and CloudWatch Logs -----------------------------------------------------

  protected CloudWatch_PutMetricData(input: Record<string, unknown>): unknown {
    const data = (input.MetricData ?? []) as { MetricName?: string; Value?: number; Dimensions?: { Name?: string; Value?: string }[] }[];
    for (const d of data) {
      this.metrics.push({
        namespace: String(input.Namespace),
        name: String(d.MetricName),
        value: d.Value ?? 0,
        dimensions: Object.fromEntries((d.Dimensions ?? []).map((x) => [x.Name!, x.Value!])),
        at: this.now(),
      });
    }
    return {};
  }

  protected CloudWatchLogs_GetLogEvents(input: Record<string, unknown>): unknown {
    const [commandId, instanceId, , stream] = String(input.logStreamName).split('/');
    const inv = this.invocations.find((i) => i.commandId === commandId && i.instanceId === instanceId);
    if (!inv || stream !== 'stdout') throw new SimulatedAwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
    const limit = Number(input.limit ?? 10000);
    const lines = this.outputLines(inv).map((l) => ({ timestamp: l.at, ingestionTime: l.at, message: l.line }));
    return { events: input.startFromHead === false ? lines.slice(-limit) : lines.slice(0, limit) };
  }

  // ----- views for the report ---------------------------------------------------------------

  /** Instances still alive (pending or running) at this moment. */
  runningInstances(now = this.now()): SimInstance[] {
    return this.instances.filter((i) => this.stateOf(i, now) !== 'terminated');
  }
}
