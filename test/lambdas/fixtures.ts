/**
 * Shared inputs for the handler tests: one valid SpotPhase task input (the DataPhase1 phase of
 * the Saturday pipeline), clocks anchored on its execution start, and AWS SDK errors by name.
 */
import { CloudWatchLogsServiceException } from '@aws-sdk/client-cloudwatch-logs';
import { EC2ServiceException } from '@aws-sdk/client-ec2';
import { SSMServiceException } from '@aws-sdk/client-ssm';
import { vi } from 'vitest';
import type { AttemptRecord, CommandRef, Failure, InstanceRef, Job, PhaseTaskInput, RunContext } from '../../contract/job';
import type { PhaseSpec } from '../../contract/config';

export const START_TIME = '2026-05-30T09:00:00.000Z';
export const START_MS = Date.parse(START_TIME);
export const EXECUTION_ID = 'arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline-spot-phase:abc';

export const INSTANCE_TYPES = ['c5.large', 'c5a.large', 'm5.large'] as const;
export const SUBNETS = ['subnet-0a1b2c3d', 'subnet-1a2b3c4d', 'subnet-2a3b4c5d'] as const;
export const WORKLOAD_COMMAND = '/opt/alpha-engine/bin/spot_data_weekly.sh --week "$PIPELINE_RUN_DATE"';
export const PREFLIGHT_COMMAND = 'echo "preflight ok: phase $PIPELINE_PHASE"';

export const INSTANCE_ID = 'i-0123456789abcdef0';
export const SPOT_REQUEST_ID = 'sir-abc12345';
export const COMMAND_ID = '11111111-2222-3333-4444-555555555555';

export const ENV = {
  LAUNCH_TEMPLATE_ID: 'lt-0123456789abcdef0',
  LAUNCH_TEMPLATE_VERSION: '7',
  WORKLOAD_LOG_GROUP: '/saturday-pipeline/workloads',
  METRIC_NAMESPACE: 'AlphaEngine',
  PIPELINE_NAME: 'saturday-pipeline',
  PIPELINE_BUCKET: 'saturday-pipeline-bucket',
} as const;

/** Epoch ms `seconds` after the phase execution started. */
export function at(seconds: number): number {
  return START_MS + seconds * 1000;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The DataPhase1 phase: budget 5400 s, so the work deadline is start + 5100 s (cleanup margin 300). */
export function phaseSpec(overrides: Partial<PhaseSpec> = {}): PhaseSpec {
  return {
    name: 'DataPhase1',
    workloadCommand: WORKLOAD_COMMAND,
    preflightCommand: PREFLIGHT_COMMAND,
    instanceTypes: [...INSTANCE_TYPES],
    subnetIds: [...SUBNETS],
    budgetSeconds: 5400,
    attemptSeconds: 2400,
    pollIntervalSeconds: 60,
    relaunchBackoffSeconds: 60,
    bootTimeoutSeconds: 600,
    silenceTimeoutSeconds: 1800,
    agentCheckSeconds: 20,
    cleanupMarginSeconds: 300,
    pipelineName: 'saturday-pipeline',
    wakeOnEvents: false,
    ...overrides,
  };
}

export function runContext(overrides: Partial<RunContext> = {}): RunContext {
  return { mode: 'full', runDate: '2026-05-30', pipelineExecution: 'exec-1', pipelineExecutionArn: 'arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline:exec-1', ...overrides };
}

/** The attempt's instance: pool 0 (c5.large in the first subnet), launched a minute in. */
export function instanceRef(overrides: Partial<InstanceRef> = {}): InstanceRef {
  return {
    id: INSTANCE_ID,
    instanceType: 'c5.large',
    subnetId: SUBNETS[0],
    availabilityZone: 'us-east-1a',
    spotRequestId: SPOT_REQUEST_ID,
    poolIndex: 0,
    launchedAt: iso(at(60)),
    ...overrides,
  };
}

/**
 * Any job, as a test reads a handler's answer: every status's fields optional. (A Job is a union
 * discriminated on status; a test asserts on whichever fields the answer has.)
 */
export interface LooseJob {
  v?: 1;
  status: Job['status'];
  attempt: number;
  poolCursor: number;
  history: AttemptRecord[];
  nextWaitSeconds: number;
  pollErrors: number;
  attemptStartedAt?: string;
  instance?: InstanceRef;
  command?: CommandRef;
  failure?: Failure;
  verdict?: { action: 'relaunch' | 'fail'; error?: string; cause?: string; exhausted?: boolean; reasonCode?: string };
}

export function job(overrides: Partial<LooseJob> = {}): Job {
  return { v: 1, attempt: 1, poolCursor: 0, history: [], status: 'launching', nextWaitSeconds: 0, pollErrors: 0, ...overrides } as Job;
}

/** A job whose command was sent at start + 300 s and last printed at `lastOutputAtMs`. */
export function runningJob(overrides: Partial<LooseJob> = {}, lastOutputAtMs = at(300)): Job {
  return job({
    status: 'running',
    attemptStartedAt: iso(at(0)),
    instance: instanceRef(),
    command: { id: COMMAND_ID, sentAt: iso(at(300)), executionTimeoutSeconds: 4800, lastOutput: 'starting', lastOutputAt: iso(lastOutputAtMs) },
    nextWaitSeconds: 60,
    ...overrides,
  });
}

export function taskInput(parts: { phase?: Partial<PhaseSpec>; run?: Partial<RunContext>; job?: Job; redriveCount?: number } = {}): PhaseTaskInput {
  return {
    phase: phaseSpec(parts.phase),
    run: runContext(parts.run),
    execution: { id: EXECUTION_ID, name: 'abc', startTime: START_TIME },
    redriveCount: parts.redriveCount ?? 0,
    job: parts.job ?? job(),
  };
}

/** Freeze Date.now at `ms` (only Date is faked: the SDK mocks need no timers). */
export function clockAt(ms: number): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(ms);
}

/** The handlers' environment, and quiet logs. Undo with vi.unstubAllEnvs(). */
export function stubHandlerEnv(): void {
  for (const [key, value] of Object.entries(ENV)) vi.stubEnv(key, value);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_LAMBDA_LOG_LEVEL', 'ERROR');
}

export function ec2Error(name: string, httpStatusCode = 400): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message: `${name} (test)` });
}

export function ssmError(name: string, httpStatusCode = 400): SSMServiceException {
  return new SSMServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message: `${name} (test)` });
}

export function logsError(name: string, httpStatusCode = 400): CloudWatchLogsServiceException {
  return new CloudWatchLogsServiceException({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message: `${name} (test)` });
}

/** A DescribeInstances answer for one instance. */
export function describedInstance(
  state: string,
  extra: { stateReason?: string; spotRequestId?: string; id?: string; instanceType?: string; subnetId?: string; az?: string; launchTime?: Date } = {},
) {
  return {
    Reservations: [
      {
        Instances: [
          {
            InstanceId: extra.id ?? INSTANCE_ID,
            InstanceType: (extra.instanceType ?? 'c5.large') as never,
            SubnetId: extra.subnetId ?? SUBNETS[0],
            Placement: { AvailabilityZone: extra.az ?? 'us-east-1a' },
            State: { Name: state as never },
            StateReason: extra.stateReason ? { Code: extra.stateReason, Message: extra.stateReason } : undefined,
            SpotInstanceRequestId: extra.spotRequestId ?? SPOT_REQUEST_ID,
            LaunchTime: extra.launchTime,
          },
        ],
      },
    ],
  };
}

/** A DescribeSpotInstanceRequests answer with one status code. */
export function spotStatus(code: string) {
  return { SpotInstanceRequests: [{ SpotInstanceRequestId: SPOT_REQUEST_ID, Status: { Code: code } }] };
}
