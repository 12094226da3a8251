/**
 * HandleFailure: an attempt ended badly. Terminate its instance, then apply the decision
 * (decisions/relaunch.ts): a confirmed spot interruption relaunches while the phase budget still
 * holds what the next attempt needs (a whole attempt, less the work the workload's checkpoint
 * reports done: it reads the checkpoint's progress file), on-demand when the phase's fallback says
 * so (decisions/market.ts); anything else, or an interruption with no budget left, fails loud. On
 * the way it records a reclaim in the pool memory and prices the attempt (its record's costUsd).
 * It puts no metric datum: the state machine counts a relaunch on its way to the launch, so a
 * retried HandleFailure (its response lost) cannot count one twice.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { bucketEnvSchema, type BucketEnv } from '../contract/environment';
import { TransientApiError } from '../contract/errors';
import type { Job, PhaseTaskInputIn, RunContext } from '../contract/job';
import { CAPACITY_EXHAUSTED, PHASE_ERRORS } from '../contract/outcomes';
import { parseProgress, PROGRESS_FILE } from '../contract/runner';
import { checkpointPrefix } from '../contract/storage';
import { cleanupCallsUntil, mayRetryTask, phaseDeadline } from '../decisions/phase-clock';
import { SPOT_NOTICE_SECONDS } from '../decisions/attempt';
import { decideAfterFailure } from '../decisions/relaunch';
import { errorCode, isTransient, retryableOnTransient } from './aws/aws-errors';
import { CLIENT_CONFIG, withCallsUntil, type Ec2Send, type S3Send } from './aws/clients';
import { instanceCost } from './aws/cost';
import { terminateOrLeaveToSafetyNet } from './aws/instances';
import { recordAttemptCost } from './aws/cost-records';
import { recordPoolEvent } from './aws/pool-memory';
import { forgetWait } from './aws/waits';
import { readEnv } from './runtime/environment';
import { logger } from './runtime/logger';
import { parsePhaseTask } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);
const s3 = new S3Client(CLIENT_CONFIG);

/**
 * The fraction of its work the workload reported done in its last checkpoint, or undefined
 * (none saved, none reported, or S3 would not say: the relaunch then asks for a whole attempt).
 */
async function savedProgress(client: S3Send, bucket: string, phase: string, shard: string | undefined, pipelineName: string, run: RunContext, mayRetry: boolean): Promise<number | undefined> {
  const key = `${checkpointPrefix(pipelineName, run.runDate, run.pipelineExecution, phase, shard)}${PROGRESS_FILE}`;
  try {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await out.Body?.transformToString()) ?? '';
    const progress = parseProgress(text.slice(0, 100));
    if (progress === undefined) logger.warn('the workload\'s progress file holds no fraction from 0 to 1; relaunching asks for a whole attempt', { key });
    return progress;
  } catch (err) {
    if (errorCode(err) === 'NoSuchKey') return undefined;
    // Throttling is never a verdict: while the task may still be retried, it is (the instance is
    // already terminated, so the retry does only this); past that, no progress counts.
    if (isTransient(err) && mayRetry) throw new TransientApiError(`GetObject ${key}: ${errorCode(err)}`, { cause: err });
    logger.warn('could not read the workload\'s progress; relaunching asks for a whole attempt', { key, error: errorCode(err) });
    return undefined;
  }
}

export async function handleFailure(clients: { ec2: Ec2Send; s3: S3Send }, env: BucketEnv, input: PhaseTaskInputIn<'failed'>): Promise<Job> {
  const { phase, execution, job, run } = input;
  const now = Date.now();
  const deadlineMs = phaseDeadline(execution, phase);

  // 1. The attempt's instance goes, whatever comes next; unless the attempt was ended at once on
  // spot's notice: then it is left to spot while its runner saves the checkpoint, if the phase relaunches (below).
  const leftToSpot = job.failure.leftToSpot === true;
  const { terminated } = leftToSpot ? { terminated: [] as string[] } : await terminateOrLeaveToSafetyNet(clients.ec2, execution.id, { instanceId: job.instance?.id, attempt: job.attempt }, mayRetryTask(now, deadlineMs));

  // 2. Relaunch, or fail loud. After an interruption, the work its checkpoint saved counts.
  const progress = job.failure.kind === 'interruption' && run.mode === 'full' ? await savedProgress(clients.s3, env.PIPELINE_BUCKET, phase.name, phase.shard?.name, phase.pipelineName, run, mayRetryTask(Date.now(), deadlineMs)) : undefined;
  // 3. Spot reclaimed the instance: the pool memory keeps it, and the next launches try that pool last.
  if (job.failure.kind === 'interruption' && job.instance && job.failure.reasonCode !== CAPACITY_EXHAUSTED && job.instance.market !== 'on-demand') {
    await recordPoolEvent(clients.s3, env.PIPELINE_BUCKET, phase.pipelineName, { instanceType: job.instance.instanceType, subnetId: job.instance.subnetId, atMs: now, kind: 'interrupted' }, `${execution.id}|${job.attempt}`);
  }

  // Nobody waits for this instance now: a late wake for it (spot's warning) finds no token and stops.
  if (job.instance && phase.wakeOnEvents) await forgetWait(clients.s3, env.PIPELINE_BUCKET, phase.pipelineName, job.instance.id);

  // 4. What the attempt cost (its instance, from launch); never a reason to fail or wait. Priced until the
  // poll saw it end, however long this task took (retries); for an instance gone before that poll, until its
  // command's end (decisions/attempt.ts); one left to spot, until two minutes after the notice was first seen.
  const seenEndMs = job.failedAt ? Date.parse(job.failedAt) : now;
  const noticeSeenMs = job.command?.notice ? Date.parse(job.command.notice.seenAt) : seenEndMs;
  const endedMs = leftToSpot ? Math.min(seenEndMs, noticeSeenMs) + SPOT_NOTICE_SECONDS * 1000 : Math.min(now, seenEndMs);
  const costUsd = job.instance && mayRetryTask(Date.now(), deadlineMs) ? await instanceCost(clients.ec2, job.instance, endedMs) : undefined;
  const answer = decideAfterFailure({ phase, job, nowMs: now, deadlineMs, savedProgress: progress, costUsd });
  // The run's cost records (the execution-cleanup rule sums them into the PipelineCostUsd datum).
  await recordAttemptCost(clients.s3, env.PIPELINE_BUCKET, input, answer.record);
  logger.info('attempt ended', { phase: phase.name, ...answer.record, terminated, savedProgress: progress });
  if (leftToSpot && !answer.relaunch) {
    // No relaunch after all (the deadline came nearer while this task was retried): the instance goes now.
    await terminateOrLeaveToSafetyNet(clients.ec2, execution.id, { instanceId: job.instance?.id, attempt: job.attempt }, mayRetryTask(Date.now(), deadlineMs));
  }
  if (answer.relaunch) {
    logger.warn('spot interruption: relaunching', { phase: phase.name, attempt: job.attempt, reasonCode: answer.reasonCode, backoffSeconds: answer.next.nextWaitSeconds });
  } else if (answer.exhausted) {
    logger.error(`${PHASE_ERRORS.interruption}: phase ${phase.name} gives up after ${answer.next.history.length} attempt(s)`, { phase: phase.name, why: answer.why });
  }
  return answer.next;
}

export async function handler(event: unknown): Promise<Job> {
  const env = readEnv(bucketEnvSchema);
  const input = parsePhaseTask(event, 'HandleFailure', ['failed']);
  return withCallsUntil({ ec2, s3 }, cleanupCallsUntil(input.execution, input.phase), (c) => retryableOnTransient(() => handleFailure(c, env, input)));
}
