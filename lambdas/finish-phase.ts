/**
 * FinishPhase: the command succeeded. Terminate the instance (and anything else this phase
 * execution still has running), remove its wait token (lambdas/aws/waits.ts) and report the phase,
 * with what its attempts cost.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { optionalBucketEnvSchema } from '../contract/environment';
import { poolLabel, type AttemptRecord, type PhaseTaskInputIn } from '../contract/job';
import { phaseCost } from '../decisions/cost';
import { cleanupCallsUntil, mayRetryTask, phaseDeadline } from '../decisions/phase-clock';
import { retryableOnTransient } from './aws/aws-errors';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send, type S3Send } from './aws/clients';
import { instanceCost } from './aws/cost';
import { recordAttemptCost } from './aws/cost-records';
import { forgetWait } from './aws/waits';
import { readEnv } from './runtime/environment';
import { terminateOrLeaveToSafetyNet } from './aws/instances';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);
const s3 = new S3Client(CLIENT_CONFIG);

export interface PhaseSummary {
  readonly phase: string;
  readonly mode: 'full' | 'preflight';
  readonly outcome: 'succeeded' | 'preflight-ok';
  readonly attempts: number;
  readonly launches: AttemptRecord[];
  readonly lastOutput: string;
  /** What the phase's instances cost (decisions/cost.ts), and the part spent on attempts that did not succeed. */
  readonly costUsd: number;
  readonly wastedUsd: number;
  /** Attempts that had an instance but no known price (their cost is not in costUsd). */
  readonly unpricedAttempts: number;
}

export async function finishPhase(client: Ec2Send, input: PhaseTaskInputIn<'succeeded'>, costs?: { s3: S3Send; bucket?: string }): Promise<PhaseSummary> {
  const { phase, run, execution, job } = input;
  const { terminated } = await terminateOrLeaveToSafetyNet(client, execution.id, { instanceId: job.instance.id }, mayRetryTask(Date.now(), phaseDeadline(execution, phase)));
  const outcome = run.mode === 'preflight' ? 'preflight-ok' : 'succeeded';
  const endedMs = job.instanceGoneBy ? Math.min(Date.now(), Date.parse(job.instanceGoneBy)) : Date.now();
  const costUsd = mayRetryTask(endedMs, phaseDeadline(execution, phase)) ? await instanceCost(client, job.instance, endedMs) : undefined;
  const record: AttemptRecord = {
    attempt: job.attempt,
    instanceId: job.instance.id,
    pool: poolLabel(job.instance),
    outcome,
    startedAt: job.attemptStartedAt,
    endedAt: new Date(endedMs).toISOString(),
    ...(costUsd === undefined ? {} : { costUsd }),
    ...(job.instance.market === 'on-demand' ? { market: 'on-demand' as const } : {}),
  };
  const launches = [...job.history, record];
  // The run's cost records (the execution-cleanup rule sums them into the PipelineCostUsd datum).
  if (costs) await recordAttemptCost(costs.s3, costs.bucket, input, record);
  // Nobody waits for this instance now: a late wake for it (spot's warning) finds no token and stops.
  if (costs?.bucket && phase.wakeOnEvents) await forgetWait(costs.s3, costs.bucket, phase.pipelineName, job.instance.id);
  const cost = phaseCost(launches);
  logger.info('phase finished', { phase: phase.name, outcome, attempts: job.attempt, terminated, ...cost });
  return {
    phase: phase.name,
    mode: run.mode,
    outcome,
    attempts: job.attempt,
    launches,
    lastOutput: job.command.lastOutput,
    costUsd: cost.costUsd,
    wastedUsd: cost.wastedUsd,
    unpricedAttempts: cost.unpriced,
  };
}

export async function handler(event: unknown): Promise<PhaseSummary> {
  const input = parsePhaseTask(event, 'FinishPhase', ['succeeded']);
  const env = readEnv(optionalBucketEnvSchema);
  return withCallsUntil({ ec2, s3 }, cleanupCallsUntil(input.execution, input.phase), (c) => retryableOnTransient(() => finishPhase(c.ec2, input, { s3: c.s3, bucket: env.PIPELINE_BUCKET })));
}
