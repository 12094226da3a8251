/**
 * The data the SpotPhase state machine carries from task to task, and the zod schemas every
 * handler checks its input against. `$` of a SpotPhase execution is a `PhaseTaskInput`; each
 * task returns the next `Job`, which the state machine stores at `$.job`.
 */
import { z } from 'zod';
import { phaseSpecSchema } from '../../lib/config/schema';
import type { FailureKind } from './classify';

export const runContextSchema = z
  .object({
    mode: z.enum(['full', 'preflight']),
    runDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    pipelineExecution: z.string().min(1).max(80),
    /** The pipeline execution's ARN: instances carry it, so cleanup can find them from either execution. */
    pipelineExecutionArn: z.string().min(1).max(256),
  })
  .strict();
export type RunContext = z.output<typeof runContextSchema>;

/** The SpotPhase execution itself ($$.Execution), captured by its first state. */
export const executionRefSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  startTime: z.iso.datetime({ offset: true }),
});
export type ExecutionRef = z.output<typeof executionRefSchema>;

const instanceSchema = z.object({
  id: z.string(),
  instanceType: z.string(),
  subnetId: z.string(),
  availabilityZone: z.string(),
  spotRequestId: z.string().optional(),
  poolIndex: z.number().int().min(0),
  launchedAt: z.string(),
});
export type InstanceRef = z.output<typeof instanceSchema>;

const commandSchema = z.object({
  id: z.string(),
  sentAt: z.string(),
  executionTimeoutSeconds: z.number().int(),
  lastOutput: z.string(),
  /** When the workload last printed (or the command was sent): the silence watchdog's anchor. */
  lastOutputAt: z.string(),
});

const failureKinds = ['interruption', 'workload-error', 'hung', 'budget', 'boot-timeout'] as const satisfies readonly FailureKind[];

const failureSchema = z.object({
  kind: z.enum(failureKinds),
  reason: z.string(),
  exitCode: z.number().int().optional(),
  lastOutput: z.string().optional(),
});
export type Failure = z.output<typeof failureSchema>;

/** One finished attempt, as the phase's history keeps it. */
const attemptRecordSchema = z.object({
  attempt: z.number().int().min(1),
  instanceId: z.string().nullable(),
  pool: z.string().nullable(),
  outcome: z.string(),
  reason: z.string().optional(),
  startedAt: z.string(),
  endedAt: z.string(),
});
export type AttemptRecord = z.output<typeof attemptRecordSchema>;

export const jobSchema = z.object({
  attempt: z.number().int().min(1),
  /** The pool index the next launch tries first. */
  poolCursor: z.number().int().min(0),
  history: z.array(attemptRecordSchema),
  status: z.enum(['launching', 'booting', 'ready', 'running', 'succeeded', 'failed']).default('launching'),
  attemptStartedAt: z.string().optional(),
  instance: instanceSchema.optional(),
  command: commandSchema.optional(),
  failure: failureSchema.optional(),
  /** Seconds the next Wait state waits. */
  nextWaitSeconds: z.number().int().min(0).default(0),
  /** Consecutive polls that could not read status (transient API errors). */
  pollErrors: z.number().int().min(0).default(0),
  verdict: z
    .object({ action: z.enum(['relaunch', 'fail']), error: z.string().optional(), cause: z.string().optional() })
    .optional(),
});
export type Job = z.output<typeof jobSchema>;

export const phaseTaskInputSchema = z.object({
  phase: phaseSpecSchema,
  run: runContextSchema,
  execution: executionRefSchema,
  job: jobSchema,
});
export type PhaseTaskInput = z.output<typeof phaseTaskInputSchema>;

/** The pool an instance came from, as people read it: "c5.large/us-east-1a". */
export function poolLabel(instance: Pick<InstanceRef, 'instanceType' | 'availabilityZone'>): string {
  return `${instance.instanceType}/${instance.availabilityZone}`;
}
