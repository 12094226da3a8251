/**
 * The simulated services, registered by SDK client and operation in one table, and the single
 * door every SDK call of the handlers comes through (sdk-interceptor.ts routes each client's
 * `send` here). How to add an operation or a service: docs/simulator-services.md.
 */
import type { SimulatedAccount } from './account';
import * as cloudwatch from './cloudwatch';
import * as ec2 from './ec2';
import { SimulatedAwsError } from './errors';
import { watchEvents } from './events';
import * as logs from './logs';
import * as s3 from './s3';
import * as sfn from './sfn';
import * as ssm from './ssm';

/** One API operation: its input as the SDK command carries it; its answer, or an AWS error thrown. */
export type OperationHandler = (account: SimulatedAccount, input: Record<string, unknown>) => unknown;

/** Every simulated operation, by SDK client (the name the interceptor knows it by) and operation. */
export const SERVICES = {
  EC2: {
    RunInstances: ec2.runInstances,
    CreateFleet: ec2.createFleet,
    DescribeInstances: ec2.describeInstances,
    DescribeSpotInstanceRequests: ec2.describeSpotInstanceRequests,
    DescribeSpotPriceHistory: ec2.describeSpotPriceHistory,
    TerminateInstances: ec2.terminateInstances,
  },
  SSM: {
    DescribeInstanceInformation: ssm.describeInstanceInformation,
    SendCommand: ssm.sendCommand,
    GetCommandInvocation: ssm.getCommandInvocation,
    CancelCommand: ssm.cancelCommand,
    ListCommands: ssm.listCommands,
  },
  CloudWatch: {
    PutMetricData: cloudwatch.putMetricData,
  },
  CloudWatchLogs: {
    GetLogEvents: logs.getLogEvents,
    FilterLogEvents: logs.filterLogEvents,
    DescribeLogStreams: logs.describeLogStreams,
  },
  SFN: {
    DescribeExecution: sfn.describeExecution,
    ListStateMachines: sfn.listStateMachines,
    ListExecutions: sfn.listExecutions,
    GetExecutionHistory: sfn.getExecutionHistory,
    StartExecution: sfn.startExecution,
    RedriveExecution: sfn.redriveExecution,
    SendTaskSuccess: sfn.sendTaskSuccess,
    SendTaskFailure: sfn.sendTaskFailure,
    SendTaskHeartbeat: sfn.sendTaskHeartbeat,
  },
  S3: {
    GetObject: s3.getObject,
    HeadObject: s3.headObject,
    PutObject: s3.putObject,
    CopyObject: s3.copyObject,
    DeleteObject: s3.deleteObject,
    ListObjectsV2: s3.listObjectsV2,
  },
} as const satisfies Record<string, Record<string, OperationHandler>>;

export type ServiceName = keyof typeof SERVICES;

function handlerOf(service: string, operation: string): OperationHandler | undefined {
  if (!Object.hasOwn(SERVICES, service)) return undefined;
  const operations: Readonly<Record<string, OperationHandler>> = SERVICES[service as ServiceName];
  return Object.hasOwn(operations, operation) ? operations[operation] : undefined;
}

/**
 * Handle one SDK command, as the service would: count it, throttle it when the scenario says so,
 * then answer it by the table. EC2 throttles with RequestLimitExceeded (EC2 developer guide,
 * "Request throttling for the Amazon EC2 API"), the other services with ThrottlingException
 * (their API references, "Common errors"). After the operation, the events it caused go to
 * EventBridge (events.ts).
 */
export async function handleCall(account: SimulatedAccount, service: string, operation: string, input: Record<string, unknown>): Promise<unknown> {
  const key = `${service}.${operation}`;
  const calls = (account.calls.get(key) ?? 0) + 1;
  account.calls.set(key, calls);
  if (calls <= (account.scenario.throttle?.[key] ?? 0)) {
    account.throttledCalls.set(key, (account.throttledCalls.get(key) ?? 0) + 1);
    throw new SimulatedAwsError(service === 'EC2' ? 'RequestLimitExceeded' : 'ThrottlingException', `Rate exceeded (${key})`);
  }
  const handler = handlerOf(service, operation);
  if (!handler) {
    throw new SimulatedAwsError('UnsupportedOperation', `the simulated cloud does not implement ${key}`);
  }
  try {
    return handler(account, input);
  } finally {
    watchEvents(account);
  }
}
