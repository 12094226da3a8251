/** Reading a handler's environment against its contract schema. */
import type * as z from 'zod';
import { InvalidEnvironment } from '../../contract/errors';
import { formatIssues } from '../../contract/issues';

/** Read the handler's environment; checked on every call, so a misconfigured function says why. */
export function readEnv<S extends z.ZodType>(schema: S): z.output<S> {
  const result = schema.safeParse(process.env);
  if (!result.success) throw new InvalidEnvironment(`Lambda environment is invalid:\n${formatIssues(result.error)}`);
  return result.data;
}
