/**
 * Simulated AWS Step Functions API, as far as the handlers call it: DescribeExecution, answered
 * from the executions of the account's Step Functions service (../step-functions.ts, which runs
 * them), and the callback API (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat) over its task
 * tokens (../task-tokens.ts). The AWS behaviours it follows:
 * - DescribeExecution answers the execution's ARN, state machine ARN, name, status, start date and,
 *   once it has ended, stop date; a redriven execution keeps its ARN and start date, its status is
 *   that of the latest redrive, and it carries redriveCount and redriveDate; an ARN with no
 *   execution is ExecutionDoesNotExist (Step Functions API reference, "DescribeExecution").
 * - SendTaskSuccess (taskToken, output), SendTaskFailure (taskToken, error?, cause?) and
 *   SendTaskHeartbeat (taskToken) answer {} (API reference, each operation: "If the action is
 *   successful, the service sends back an HTTP 200 response with an empty HTTP body"); a token
 *   Step Functions never issued is InvalidToken, the token of a closed task TaskTimedOut, an output
 *   that is not JSON InvalidOutput (SendTaskSuccess). The token is checked first. The length
 *   constraints (taskToken 1-2048, output 262144, error 256, cause 32768) are not checked: the API
 *   reference names no error for them.
 */
import type { SimulatedAccount } from './account';
import { SimulatedAwsError } from './errors';

/** SendTaskSuccess: the task succeeds with the output (JSON text) as its result. */
export function sendTaskSuccess(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const task = account.stepFunctions.taskTokens.open(input.taskToken);
  let output: unknown;
  try {
    output = JSON.parse(String(input.output)) as unknown;
  } catch {
    throw new SimulatedAwsError('InvalidOutput', 'Invalid Output: the output is not valid JSON');
  }
  task.succeed(output);
  return {};
}

/** SendTaskFailure: the task fails with the error and cause (both optional). */
export function sendTaskFailure(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const task = account.stepFunctions.taskTokens.open(input.taskToken);
  task.fail(typeof input.error === 'string' ? input.error : undefined, typeof input.cause === 'string' ? input.cause : undefined);
  return {};
}

/** SendTaskHeartbeat: the task's heartbeat clock starts again (its TimeoutSeconds does not). */
export function sendTaskHeartbeat(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  account.stepFunctions.taskTokens.open(input.taskToken).heartbeat();
  return {};
}

/** The DescribeExecution API, for the handlers that ask (the orphan reaper). */
export function describeExecution(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const runs = account.stepFunctions.executions.filter((e) => e.arn === input.executionArn);
  const [first, latest] = [runs[0], runs.at(-1)];
  if (!first || !latest) throw new SimulatedAwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(input.executionArn)}'`);
  return {
    executionArn: latest.arn,
    stateMachineArn: latest.stateMachine.arn,
    name: latest.name,
    status: latest.status,
    startDate: new Date(first.startedAt),
    stopDate: latest.stoppedAt === undefined ? undefined : new Date(latest.stoppedAt),
    redriveCount: latest.redriveCount,
    redriveDate: latest.redriveCount > 0 ? new Date(latest.startedAt) : undefined,
  };
}
