/**
 * Simulated AWS Step Functions API, as far as the handlers call it: DescribeExecution, answered
 * from the executions of the account's Step Functions service (../step-functions.ts, which runs
 * them). The AWS behaviours it follows: DescribeExecution answers the execution's ARN, state
 * machine ARN, name, status, start date and, once it has ended, stop date; an ARN with no
 * execution is ExecutionDoesNotExist (Step Functions API reference, "DescribeExecution").
 */
import type { SimulatedAccount } from './account';
import { SimulatedAwsError } from './errors';

/** The DescribeExecution API, for the handlers that ask (the orphan reaper). */
export function describeExecution(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const execution = account.stepFunctions.executions.find((e) => e.arn === input.executionArn);
  if (!execution) throw new SimulatedAwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(input.executionArn)}'`);
  return {
    executionArn: execution.arn,
    stateMachineArn: execution.stateMachine.arn,
    name: execution.name,
    status: execution.status,
    startDate: new Date(execution.startedAt),
    stopDate: execution.stoppedAt === undefined ? undefined : new Date(execution.stoppedAt),
  };
}
