/**
 * CleanupPhase: a task of the phase failed in a way the phase did not expect (a caught error).
 * Terminate every instance of this phase execution before the phase fails with that error.
 * Reads as little of its input as it can: the input that broke another task may be odd.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import * as z from 'zod';
import { terminateOrLeaveToSafetyNet } from './aws/instances';
import { retryableOnTransient } from './aws/aws-errors';
import { logger } from './runtime/logger';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send } from './aws/clients';
import { cleanupCallsUntil } from '../decisions/phase-clock';
import { parseTaskInput } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);

const cleanupInputSchema = z.object({
  execution: z.object({ id: z.string().min(1), startTime: z.iso.datetime({ offset: true }).optional() }),
  phase: z.object({ budgetSeconds: z.number().int().positive().optional() }).optional(),
  job: z.object({ instance: z.object({ id: z.string() }).optional() }).optional(),
  caught: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
});

export async function cleanupPhase(client: Ec2Send, input: z.output<typeof cleanupInputSchema>): Promise<{ terminated: string[] }> {
  // The phase fails next either way, and the execution-cleanup rule acts when it has: after the
  // SDK's own retries, a terminate that is still throttled is left to that rule (no task retry).
  const { terminated } = await terminateOrLeaveToSafetyNet(client, input.execution.id, { instanceId: input.job?.instance?.id }, false);
  logger.warn('phase failed with an error; instances cleaned up', { error: input.caught?.Error, terminated });
  return { terminated };
}

export async function handler(event: unknown): Promise<{ terminated: string[] }> {
  const input = parseTaskInput(cleanupInputSchema, event, 'CleanupPhase');
  const { startTime } = input.execution;
  // Cut off with the other cleanup tasks when the input still says when the phase ends.
  const budgetSeconds = input.phase?.budgetSeconds;
  const untilMs = startTime && budgetSeconds ? cleanupCallsUntil({ startTime }, { budgetSeconds }) : Number.POSITIVE_INFINITY;
  return withCallsUntil({ ec2 }, untilMs, (c) => retryableOnTransient(() => cleanupPhase(c.ec2, input)));
}
