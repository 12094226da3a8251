/**
 * ExecutionCleanup: an EventBridge rule sends every "Step Functions Execution Status Change"
 * to FAILED, TIMED_OUT or ABORTED of the pipeline's state machines here. Whatever ended the
 * execution (a console abort, a timeout, a failure the state machine could not catch), every
 * instance tagged with that execution (as its phase execution, or as its pipeline execution) is
 * terminated. Idempotent: an instance already gone is not an error.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { z } from 'zod';
import { cleanupEnvSchema, type CleanupEnv } from '../contract/environment';
import { readEnv } from './runtime/environment';
import { findTaggedInstances, terminate } from './aws/instances';
import { logger } from './runtime/logger';
import type { Ec2Send } from './aws/clients';
import { TAG } from '../contract/tags';
import { parseTaskInput } from './runtime/task-input';

const ec2 = new EC2Client({ maxAttempts: 5 });

export const statusChangeSchema = z.object({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().optional(),
    status: z.string(),
  }),
});
export type StatusChange = z.output<typeof statusChangeSchema>;

export interface CleanupResult {
  readonly executionArn: string;
  readonly status: string;
  readonly terminated: string[];
}

export async function cleanupExecution(client: Ec2Send, env: CleanupEnv, event: StatusChange): Promise<CleanupResult> {
  const { executionArn, status } = event.detail;
  // Only this pipeline's instances: they are the ones this function may terminate.
  const own = { [TAG.pipeline]: env.PIPELINE_NAME };
  const asPhase = await findTaggedInstances(client, { ...own, [TAG.execution]: executionArn });
  const asPipeline = await findTaggedInstances(client, { ...own, [TAG.run]: executionArn });
  const terminated = await terminate(client, [...asPhase, ...asPipeline].map((i) => i.id));
  for (const id of terminated) logger.warn('terminated an instance of an execution that ended', { executionArn, status, instanceId: id });
  if (terminated.length === 0) logger.info('execution ended with nothing left running', { executionArn, status });
  return { executionArn, status, terminated };
}

export async function handler(event: unknown): Promise<CleanupResult> {
  const env = readEnv(cleanupEnvSchema);
  return cleanupExecution(ec2, env, parseTaskInput(statusChangeSchema, event, 'ExecutionCleanup'));
}
