/**
 * Simulated AWS Step Functions API, as far as the handlers call it: DescribeExecution, answered
 * from the executions of the account's Step Functions service (../step-functions.ts, which runs
 * them). The AWS behaviours it follows: DescribeExecution answers the execution's ARN, state
 * machine ARN, name, status, start date and, once it has ended, stop date; a redriven execution
 * keeps its ARN and start date, its status is that of the latest redrive, and it carries
 * redriveCount and redriveDate; an ARN with no execution is ExecutionDoesNotExist (Step Functions
 * API reference, "DescribeExecution").
 */
import type { SimulatedAccount } from './account';
import { SimulatedAwsError } from './errors';

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
