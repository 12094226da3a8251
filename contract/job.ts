/**
 * The data the SpotPhase state machine carries from task to task. `$` of a SpotPhase execution
 * is a `PhaseTaskInput`; each task returns the next `Job`, which the state machine stores at
 * `$.job`. The job is versioned (`v`) and discriminated on `status`: each status carries exactly
 * what a task acting on it needs, so a task handed a job it cannot act on says so by name.
 *
 * Versioning: a redrive re-runs the ORIGINAL definition with the original input, but with the
 * Lambda code deployed since. A handler must therefore read every job version a definition still
 * in redrive reach (14 days) may hand it; a new version adds a member here, never changes one.
 */
import * as z from 'zod';
import { artifactsSchema } from './artifacts';
import { phaseSpecSchema } from './phase-config';
import { PARAM_ENV_NAME } from './workload-env';
import { ATTEMPT_OUTCOMES, FAILURE_KINDS, REASON_CODES } from './outcomes';

export const runContextSchema = z
  .object({
    mode: z.enum(['full', 'preflight']),
    runDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    pipelineExecution: z.string().min(1).max(80),
    /** The pipeline execution's ARN: instances carry it, so cleanup can find them from either execution. */
    pipelineExecutionArn: z.string().min(1).max(256),
    /**
     * The run's parameters as the workload sees them (PIPELINE_PARAM_* -> value; contract/params.ts),
     * validated by ValidateInput. Absent in runs started before parameters existed.
     */
    params: z.record(z.string().regex(PARAM_ENV_NAME), z.string()).optional(),
    /**
     * The artifacts the run's build stages made or found so far, by name (contract/artifacts.ts):
     * ValidateInput opens it empty, each build stage adds its own. Absent in runs from before build stages.
     */
    artifacts: artifactsSchema.optional(),
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

export const instanceRefSchema = z.object({
  id: z.string(),
  instanceType: z.string(),
  subnetId: z.string(),
  availabilityZone: z.string(),
  spotRequestId: z.string().optional(),
  poolIndex: z.number().int().min(0),
  launchedAt: z.string(),
  /** The market it was launched in (absent: spot, as every instance was before on-demand fallback). */
  market: z.enum(['spot', 'on-demand']).optional(),
});
export type InstanceRef = z.output<typeof instanceRefSchema>;

export const commandRefSchema = z.object({
  id: z.string(),
  sentAt: z.string(),
  executionTimeoutSeconds: z.number().int(),
  lastOutput: z.string(),
  /** When the workload last printed (or the command was sent): the silence watchdog's anchor. */
  lastOutputAt: z.string(),
  /**
   * Spot's interruption, as a poll first saw it while the instance still ran its command: the
   * pipeline leaves the runner its notice window to save the checkpoint (decisions/attempt.ts,
   * NOTICE_SAVE_WINDOW_SECONDS), and names the interruption if the phase ends in that window.
   */
  notice: z.object({ seenAt: z.string(), reasonCode: z.enum(REASON_CODES), detail: z.string() }).optional(),
});
export type CommandRef = z.output<typeof commandRefSchema>;

export const failureSchema = z.object({
  kind: z.enum(FAILURE_KINDS),
  /**
   * Spot's notice, seen while the instance still ran the workload, ended the attempt at once so the
   * relaunch starts within the notice's two minutes: the instance is left to spot (its runner saves
   * the checkpoint) rather than terminated.
   */
  leftToSpot: z.literal(true).optional(),
  /** A closed set: the `Reason` dimension of SpotInterruptionRetry. */
  reasonCode: z.enum(REASON_CODES),
  /** Free text for people: what exactly was seen. */
  detail: z.string(),
  exitCode: z.number().int().optional(),
  lastOutput: z.string().optional(),
});
export type Failure = z.output<typeof failureSchema>;

/** One finished attempt, as the phase's history keeps it. */
export const attemptRecordSchema = z.object({
  attempt: z.number().int().min(1),
  instanceId: z.string().nullable(),
  pool: z.string().nullable(),
  outcome: z.enum(ATTEMPT_OUTCOMES),
  reasonCode: z.enum(REASON_CODES).optional(),
  detail: z.string().optional(),
  startedAt: z.string(),
  endedAt: z.string(),
  /** What its instance cost (contract/prices.ts); absent when it had none, or no price was known. */
  costUsd: z.number().min(0).optional(),
  /** The market its instance ran in (absent: spot). */
  market: z.enum(['spot', 'on-demand']).optional(),
  /** Relaunched from at once on spot's notice, the instance left to spot (failureSchema leftToSpot). */
  leftToSpot: z.literal(true).optional(),
});
export type AttemptRecord = z.output<typeof attemptRecordSchema>;

export const JOB_VERSION = 1;

/** The status values a job takes; the state machine's Choice states test these, never retyped strings. */
export const JOB_STATUS = {
  /** An attempt is about to launch (the first, or a relaunch after the backoff). */
  launching: 'launching',
  /** The attempt's instance is up; its SSM agent is not online yet. */
  booting: 'booting',
  /** The SSM agent is online: the command can be sent. */
  ready: 'ready',
  /** The command runs. */
  running: 'running',
  /** The command succeeded. */
  succeeded: 'succeeded',
  /** The attempt failed; HandleFailure decides what comes next (and, when the phase gives up, says why in `verdict`). */
  failed: 'failed',
} as const;
export type JobStatus = (typeof JOB_STATUS)[keyof typeof JOB_STATUS];

const common = {
  v: z.literal(JOB_VERSION),
  attempt: z.number().int().min(1),
  /** The pool index the next launch tries first. */
  poolCursor: z.number().int().min(0),
  history: z.array(attemptRecordSchema),
  /** Seconds the next Wait state waits. */
  nextWaitSeconds: z.number().int().min(0),
  /** Consecutive polls that could not read status (transient API errors). */
  pollErrors: z.number().int().min(0),
  /** The market the attempt launches in (absent: spot); on-demand once the phase fell back (contract/config.ts onDemandFallback). */
  market: z.enum(['spot', 'on-demand']).optional(),
  /**
   * How the next wait of a running workload ends: "event" (a callback task the wake relay may cut
   * short, nextWaitSeconds at the latest), or by its timer (absent).
   */
  wake: z.literal('event').optional(),
  /**
   * The instance of the attempt before, spot's notice on it, relaunched from at once: it saves its
   * checkpoint until `savesUntil`, and this attempt's workload starts only once it is gone or that
   * moment has passed (its checkpoint is what the workload resumes from).
   */
  predecessor: z.object({ instanceId: z.string(), savesUntil: z.string() }).optional(),
};
const withInstance = { ...common, attemptStartedAt: z.string(), instance: instanceRefSchema };

/** Metric data a task built from the catalogue (contract/metrics.ts), as PutMetricData's MetricData takes them: the state machine puts them. */
const metricDataSchema = z.array(z.object({ MetricName: z.string(), Unit: z.literal('Count'), Value: z.number(), Dimensions: z.array(z.object({ Name: z.string(), Value: z.string() })) }));

export const launchingJobSchema = z.object({
  status: z.literal(JOB_STATUS.launching),
  ...common,
  /** Set when HandleFailure decided this relaunch; reasonCode is the interruption the CountRelaunch datum counts. */
  verdict: z
    .object({
      action: z.literal('relaunch'),
      reasonCode: z.enum(REASON_CODES).optional(),
      /**
       * The data CountRelaunch puts (PutMetricData's MetricData, built from the metrics catalogue):
       * SpotInterruptionRetry (with the shard, for a shard), and OnDemandFallback when this relaunch falls back.
       */
      metricData: metricDataSchema.optional(),
      /** What made this relaunch go on-demand (contract/config.ts onDemandFallback). */
      fallback: z.enum(['last-attempt', 'capacity-exhausted', 'interruptions']).optional(),
      /** The pool (its index) spot just reclaimed: a fleet relaunch leaves it out, unless it is the only one. */
      leavePool: z.number().int().min(0).optional(),
    })
    .optional(),
});
export const bootingJobSchema = z.object({
  status: z.literal(JOB_STATUS.booting),
  ...withInstance,
  /** Set when this launch itself fell back to on-demand (spot refused in every pool, or the only affordable attempt): the datum CountLaunchFallback puts. */
  fallback: z
    .object({
      trigger: z.enum(['last-attempt', 'capacity-exhausted', 'interruptions']),
      metricData: metricDataSchema,
    })
    .optional(),
});
export const readyJobSchema = z.object({ status: z.literal(JOB_STATUS.ready), ...withInstance });
export const runningJobSchema = z.object({ status: z.literal(JOB_STATUS.running), ...withInstance, command: commandRefSchema });
export const succeededJobSchema = z.object({
  status: z.literal(JOB_STATUS.succeeded),
  ...withInstance,
  command: commandRefSchema,
  /** Set when the poll that saw the success found the instance already gone (spot took it since): when its command ended, at the latest. */
  instanceGoneBy: z.string().optional(),
});
export const failedJobSchema = z.object({
  status: z.literal(JOB_STATUS.failed),
  ...common,
  attemptStartedAt: z.string(),
  instance: instanceRefSchema.optional(),
  command: commandRefSchema.optional(),
  failure: failureSchema,
  /** When a poll saw the attempt end (absent where none did): an interrupted attempt's cost ends there. */
  failedAt: z.string().optional(),
  /** Set when HandleFailure decided the phase fails: the SpotPhase execution's error and cause. */
  verdict: z.object({ action: z.literal('fail'), error: z.string(), cause: z.string(), exhausted: z.boolean().optional() }).optional(),
});

export const jobSchema = z.discriminatedUnion('status', [
  launchingJobSchema,
  bootingJobSchema,
  readyJobSchema,
  runningJobSchema,
  succeededJobSchema,
  failedJobSchema,
]);
export type Job = z.output<typeof jobSchema>;
export type JobIn<S extends JobStatus> = Extract<Job, { status: S }>;

/** The job every SpotPhase execution starts with (its first state, Begin, writes exactly this). */
export function initialJob(): JobIn<'launching'> {
  return { v: JOB_VERSION, status: JOB_STATUS.launching, attempt: 1, poolCursor: 0, history: [], nextWaitSeconds: 0, pollErrors: 0 };
}

export const phaseTaskInputSchema = z.object({
  phase: phaseSpecSchema,
  run: runContextSchema,
  execution: executionRefSchema,
  /** The pipeline execution's $$.Execution.RedriveCount when it started this phase: 0, or n for its n-th redrive. */
  redriveCount: z.number().int().min(0),
  job: jobSchema,
});
export type PhaseTaskInput = z.output<typeof phaseTaskInputSchema>;
/** A task's input whose job is in one status. */
export type PhaseTaskInputIn<S extends JobStatus> = Omit<PhaseTaskInput, 'job'> & { job: JobIn<S> };

/** The pool an instance came from, as people read it: "c5.large/us-east-1a". */
export function poolLabel(instance: Pick<InstanceRef, 'instanceType' | 'availabilityZone'>): string {
  return `${instance.instanceType}/${instance.availabilityZone}`;
}
