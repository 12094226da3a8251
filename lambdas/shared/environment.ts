/**
 * The environment each Lambda gets from the stack. One schema per function, used by the
 * stack to build it and by the handler to check it, so the two cannot drift apart.
 */
import { z } from 'zod';
import { formatIssues } from '../../lib/config/schema';
import { InvalidEnvironment } from './errors';

export const launchEnvSchema = z.object({
  LAUNCH_TEMPLATE_ID: z.string().min(1),
  LAUNCH_TEMPLATE_VERSION: z.string().min(1),
});

export const sendEnvSchema = z.object({
  WORKLOAD_LOG_GROUP: z.string().min(1),
});

export const failureEnvSchema = z.object({
  METRIC_NAMESPACE: z.string().min(1),
});

export type LaunchEnv = z.output<typeof launchEnvSchema>;
export type SendEnv = z.output<typeof sendEnvSchema>;
export type FailureEnv = z.output<typeof failureEnvSchema>;

/** Read the handler's environment; checked on every call, so a misconfigured function says why. */
export function readEnv<S extends z.ZodType>(schema: S): z.output<S> {
  const result = schema.safeParse(process.env);
  if (!result.success) throw new InvalidEnvironment(`Lambda environment is invalid:\n${formatIssues(result.error)}`);
  return result.data;
}
