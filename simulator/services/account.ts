/**
 * The simulated AWS account's state, shared by the service modules beside this file: the EC2
 * instances and spot requests, the SSM command invocations, the CloudWatch metric data, and the
 * record of every API call. Everything runs on the process clock (faked by the simulator), and
 * everything is computed from what the pipeline asked for (its tags, its commands) and the
 * scenario's plan: no product code tells it anything.
 *
 * This module holds state and the views the report reads; what each API does with it lives in
 * the service's own module (ec2.ts, ssm.ts, cloudwatch.ts, logs.ts, sfn.ts), which import only
 * types from here (the one runtime import goes the other way: the views ask ec2.ts for states).
 */
import type { RunnerRecord } from '../instance-runner';
import type { AttemptPlan, PhasePlan, Scenario } from '../scenario';
import type { SimulatedStepFunctions } from '../step-functions';
import { stateOf } from './ec2';
import type { AwsEvent } from './events';

export interface SimInstance {
  readonly id: string;
  /** The spot request of a spot instance (none for an on-demand one). */
  readonly spotRequestId?: string;
  readonly instanceType: string;
  readonly subnetId: string;
  readonly availabilityZone: string;
  readonly tags: Record<string, string>;
  readonly launchedAt: number;
  readonly agentOnlineAt: number;
  readonly phase: string;
  /** The shard of a sharded phase it runs (its spot-pipeline:shard tag). */
  readonly shard?: string;
  readonly attempt: number;
  readonly plan: AttemptPlan;
  /** spot, or on-demand (RunInstances without spot market options): spot never reclaims an on-demand instance. */
  readonly market: 'spot' | 'on-demand';
  /** The image RunInstances named (an AMI id, or resolve:ssm:<parameter>); undefined: the launch template's. */
  readonly imageId?: string;
  /** The instance profile it was launched with (RunInstances IamInstanceProfile.Arn); undefined: the launch template's. */
  readonly instanceProfileArn?: string;
  terminatedAt?: number;
  stateReason?: string;
  /** When the spot notice arrives (set once a workload starts on an interruption plan). */
  noticeAt?: number;
  spotStatusAfterNotice?: string | null;
  stateReasonAfterInterruption?: string | null;
  terminatedBy?: 'pipeline' | 'spot';
  /** The function that terminated it (TerminateInstances' caller), when the pipeline did. */
  terminatedByHandler?: string;
}

export interface SimInvocation {
  readonly commandId: string;
  readonly instanceId: string;
  readonly phase: string;
  readonly shard?: string;
  readonly attempt: number;
  readonly mode: 'full' | 'preflight';
  readonly startedAt: number;
  readonly executionTimeoutMs: number;
  readonly durationMs: number;
  readonly exitCode: number;
  readonly hang: boolean;
  readonly commands: string[];
  /** SendCommand's Comment. */
  readonly comment: string;
  /** What the on-instance runner did around the workload (instance-runner.ts); undefined for a command without it. */
  readonly runner?: RunnerRecord;
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
  /** The phase execution the refused launch was tagged with. */
  readonly execution: string;
  readonly phase: string;
  readonly attempt: number;
  readonly pool: string;
  readonly code: string;
  readonly at: number;
  /** The market the launch asked for. */
  readonly market: 'spot' | 'on-demand';
}

/** What a deployed launch template sets that the simulation reads: the instance profile and the image. */
export interface LaunchTemplateData {
  readonly instanceProfileArn?: string;
  readonly imageId?: string;
}

export interface AccountOptions {
  readonly scenario: Scenario;
  /** Availability zone of every subnet the pipeline may launch into. */
  readonly subnetZones: ReadonlyMap<string, string>;
  /** The launch templates the stack deployed, by id: what each launches with (its instance profile and image). */
  readonly launchTemplates: ReadonlyMap<string, LaunchTemplateData>;
  /** The account's Step Functions service, whose executions SFN.DescribeExecution reads. */
  readonly stepFunctions: SimulatedStepFunctions;
  /** ARNs of the instance profiles the stack created. */
  readonly instanceProfiles?: readonly string[];
  /** When the run starts (epoch ms): what was in the account before is dated then. */
  readonly startedAt?: number;
}

/** An S3 object: what the simulated cloud keeps of it (its bytes' sha256 and size, who wrote it, when). */
export interface SimObject {
  readonly sha256: string;
  readonly size: number;
  readonly writtenAt: number;
  /** "cdk deploy", or the instance id that uploaded it. */
  readonly writtenBy: string;
  /** The content, for the small objects the simulated workload writes (checkpoint progress, outputs). */
  readonly body?: string;
  /** User metadata (x-amz-meta-*), as the uploader set it: a build records the artifact's sha256 there. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export class SimulatedAccount {
  readonly scenario: Scenario;
  readonly subnetZones: ReadonlyMap<string, string>;
  readonly launchTemplates: ReadonlyMap<string, LaunchTemplateData>;
  readonly stepFunctions: SimulatedStepFunctions;
  readonly instanceProfiles: readonly string[];
  readonly startedAt: number;

  // ----- S3 -----------------------------------------------------------------------------------
  /** Every object, by "bucket/key"; each write replaces the object (the latest version is what a read gets). */
  readonly objects = new Map<string, SimObject>();
  /** Every GetObject, by "bucket/key", in order (as CloudTrail's S3 data events would show them). */
  readonly objectReads: string[] = [];
  /** Every object a DeleteObject removed ("bucket/key"), and who asked: the cloud's record of deletions. */
  readonly objectDeletions: { key: string; at: number; by: string }[] = [];

  // ----- EC2 ---------------------------------------------------------------------------------
  readonly instances: SimInstance[] = [];
  readonly refusals: LaunchRefusal[] = [];
  /** RunInstances client tokens already used, and the instance each launched. */
  readonly clientTokens = new Map<string, SimInstance>();
  /** CreateFleet client tokens already used, and the answer each call got. */
  readonly fleetAnswers = new Map<string, unknown>();
  /** Per phase, per pipeline redrive, the highest attempt any launch request was tagged with. */
  readonly attemptsSeen = new Map<string, Map<number, number>>();

  // ----- SSM, CloudWatch ----------------------------------------------------------------------
  readonly invocations: SimInvocation[] = [];
  readonly metrics: SimMetricDatum[] = [];

  // ----- every API ----------------------------------------------------------------------------
  /** Every API call the pipeline made, by "Service.Operation". */
  readonly calls = new Map<string, number>();
  /** API calls answered with a throttling error (scenario "throttle"), by "Service.Operation". */
  readonly throttledCalls = new Map<string, number>();

  // ----- events to EventBridge (services/events.ts) ---------------------------------------------
  /**
   * Where the events the services send to EventBridge go (run.ts: the simulated event bus). Unset
   * (an account without a bus, as in unit tests), nothing is watched or sent.
   */
  events?: (event: AwsEvent) => void;
  /** Every event sent, in order; `lost`: the scenario's lostEvents lost it (it never reached EventBridge). */
  readonly emittedEvents: { event: AwsEvent; lost: boolean }[] = [];
  /** What services/events.ts already reported (per instance, per invocation), the moments it looks again, its event count. */
  readonly eventWatch = { instances: new Map<string, Set<string>>(), invocations: new Map<string, string>(), wakes: new Set<number>(), seq: 0 };

  /** One sequence for every id the account hands out (instances, spot requests, commands). */
  private seq = 0;

  constructor(options: AccountOptions) {
    this.scenario = options.scenario;
    this.subnetZones = options.subnetZones;
    this.launchTemplates = options.launchTemplates;
    this.stepFunctions = options.stepFunctions;
    this.instanceProfiles = options.instanceProfiles ?? [];
    this.startedAt = options.startedAt ?? 0;
  }

  /** Send an event to EventBridge, unless the scenario's lostEvents loses its detail-type (best-effort delivery). */
  emit(event: AwsEvent): void {
    const lost = (this.scenario.lostEvents ?? []).some((t) => t === event['detail-type']);
    this.emittedEvents.push({ event, lost });
    if (!lost) this.events?.(event);
  }

  nextId(prefix: string, length: number): string {
    this.seq += 1;
    return `${prefix}${this.seq.toString(16).padStart(length, '0')}`;
  }

  /** What the scenario plans for a phase, or for one shard of it: the shard's own plan over the phase's. */
  phasePlan(phase: string, shard?: string): PhasePlan {
    const plan = this.scenario.phases?.[phase] ?? {};
    if (shard === undefined) return plan;
    const { shards, ...base } = plan;
    return { ...base, ...(shards && Object.hasOwn(shards, shard) ? shards[shard] : {}) };
  }

  // ----- views for the report ---------------------------------------------------------------

  poolOf(instance: Pick<SimInstance, 'instanceType' | 'availabilityZone'>): string {
    return `${instance.instanceType}/${instance.availabilityZone}`;
  }

  /** Instances still alive (pending or running) at this moment. */
  runningInstances(now = Date.now()): SimInstance[] {
    return this.instances.filter((i) => stateOf(i, now) !== 'terminated');
  }
}
