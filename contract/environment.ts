/**
 * The environment each Lambda gets from the stack. One schema per function, used by the
 * stack to build it and by the handler to check it, so the two cannot drift apart.
 */
import * as z from 'zod';

/** LaunchInstance: the workers' launch template, and the pipeline bucket (its pool memory). */
export const launchEnvSchema = z.object({
  LAUNCH_TEMPLATE_ID: z.string().min(1),
  LAUNCH_TEMPLATE_VERSION: z.string().min(1),
  /** Optional: a LaunchInstance deployed before the pool memory remembers nothing. */
  PIPELINE_BUCKET: z.string().min(3).max(63).optional(),
});

/** SendWorkload and PollWorkload: where SSM writes the workload's output. */
export const workloadLogEnvSchema = z.object({
  WORKLOAD_LOG_GROUP: z.string().min(1),
});

/** HandleFailure: the pipeline bucket, where a workload's checkpoint reports its progress. */
export const bucketEnvSchema = z.object({
  PIPELINE_BUCKET: z.string().min(3).max(63),
});

/** FinishPhase: the pipeline bucket, for the run's cost records (optional: one deployed before them records none). */
export const optionalBucketEnvSchema = z.object({ PIPELINE_BUCKET: z.string().min(3).max(63).optional() });

/** SendWorkload: the workload's output group, and the pipeline bucket its outputs and checkpoints go to. */
export const sendEnvSchema = workloadLogEnvSchema.extend(bucketEnvSchema.shape);

/**
 * ExecutionCleanup: whose instances it may terminate; and where a run's cost records are and where
 * its PipelineCostUsd datum goes (optional: one deployed before them reports no cost).
 */
export const cleanupEnvSchema = z.object({
  PIPELINE_NAME: z.string().min(1),
  PIPELINE_BUCKET: z.string().min(3).max(63).optional(),
  METRIC_NAMESPACE: z.string().min(1).optional(),
});

/** WakePhase: the pipeline bucket and name (where waiting phases keep their task tokens, contract/storage.ts waitKey). */
export const wakeEnvSchema = bucketEnvSchema.extend({ PIPELINE_NAME: z.string().min(1) });

/** ReapOrphans. */
export const reaperEnvSchema = z.object({
  PIPELINE_NAME: z.string().min(1),
  METRIC_NAMESPACE: z.string().min(1),
  MAX_AGE_SECONDS: z.coerce.number().int().positive(),
  DRY_RUN: z.enum(['true', 'false']).default('false'),
});

export type LaunchEnv = z.output<typeof launchEnvSchema>;
export type WorkloadLogEnv = z.output<typeof workloadLogEnvSchema>;
export type SendEnv = z.output<typeof sendEnvSchema>;
export type BucketEnv = z.output<typeof bucketEnvSchema>;
export type CleanupEnv = z.output<typeof cleanupEnvSchema>;
export type WakeEnv = z.output<typeof wakeEnvSchema>;
export type ReaperEnv = z.output<typeof reaperEnvSchema>;
/** What the stack writes: every value a string, as Lambda holds environment variables. */
export type ReaperEnvInput = { readonly [K in keyof ReaperEnv]: string };
