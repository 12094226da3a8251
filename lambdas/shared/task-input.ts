import type { z } from 'zod';
import { formatIssues } from '../../lib/config/schema';
import { InvalidTaskInput } from './errors';

/** Parse a task's input, or fail the task with InvalidTaskInput naming the fields. */
export function parseTaskInput<S extends z.ZodType>(schema: S, event: unknown, task: string): z.output<S> {
  const result = schema.safeParse(event);
  if (!result.success) throw new InvalidTaskInput(`${task} received invalid input:\n${formatIssues(result.error)}`);
  return result.data;
}
