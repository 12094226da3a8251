/** Checking what a task is handed, before it touches AWS. */
import type * as z from 'zod';
import { InvalidTaskInput, UnexpectedJobState } from '../../contract/errors';
import { formatIssues } from '../../contract/issues';
import { phaseTaskInputSchema, type JobStatus, type PhaseTaskInputIn } from '../../contract/job';

/** Parse a task's input, or fail the task with InvalidTaskInput naming the fields. */
export function parseTaskInput<S extends z.ZodType>(schema: S, event: unknown, task: string): z.output<S> {
  const result = schema.safeParse(event);
  if (!result.success) throw new InvalidTaskInput(`${task} received invalid input:\n${formatIssues(result.error)}`);
  return result.data;
}

/**
 * Parse a SpotPhase task's input and require its job to be in one of `statuses`: anything else
 * is a bug (or a hand-edited input) and fails the task with UnexpectedJobState, never a guess.
 */
export function parsePhaseTask<S extends JobStatus>(event: unknown, task: string, statuses: readonly S[]): PhaseTaskInputIn<S> {
  const input = parseTaskInput(phaseTaskInputSchema, event, task);
  if (!(statuses as readonly string[]).includes(input.job.status)) {
    throw new UnexpectedJobState(`${task} cannot act on a job in status "${input.job.status}" (it acts on ${statuses.map((s) => `"${s}"`).join(' or ')})`);
  }
  return input as PhaseTaskInputIn<S>;
}
