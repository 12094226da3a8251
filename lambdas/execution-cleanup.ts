/**
 * ExecutionCleanup: an EventBridge rule sends every "Step Functions Execution Status Change"
 * to an end (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) of the pipeline's state machines here.
 * Whatever ended the execution (a console abort, a timeout, a failure the state machine could
 * not catch, a task that left an instance to the safety net), every instance tagged with that
 * execution (as its phase execution, or as its pipeline execution) is terminated. Idempotent: an
 * instance already gone is not an error.
 *
 * A redrive keeps the execution's ARN. A late or retried delivery of an earlier end must not
 * touch the instances the redriven execution launched since: the execution is described first,
 * and while it runs again only instances launched before its redrive are terminated.
 *
 * An instance spot has given its notice to is left to spot: its runner is saving the checkpoint the
 * next run resumes from (a sibling's failure or an abort may stop the execution in those two
 * minutes), and spot takes it at their end (the orphan reaper if not). A status that cannot be read
 * spares nothing.
 *
 * The end of a pipeline run (the original run or a redrive) also reports what it cost: the run's
 * attempt records (lambdas/aws/cost-records.ts) summed into one PipelineCostUsd datum. At most once:
 * the report is claimed with a marker written only if absent before the datum is put, so a repeated
 * or retried delivery puts none (a datum CloudWatch refuses after the claim is lost, and logged).
 * The end of a phase execution reports how long it ran (PhaseDurationSeconds), for the dashboard.
 * The wait tokens of the ended run's instances are removed (lambdas/aws/waits.ts): nobody waits for
 * them now, so a late wake (spot's warning after an abort) finds none and stops.
 */
import { DescribeSpotInstanceRequestsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { METRICS, metricDatum } from '../contract/metrics';
import { spotPhaseName } from '../contract/names';
import { runCostPrefix, safeExecutionName } from '../contract/storage';
import { claimCostReport, runCost, type RunCost } from './aws/cost-records';
import { forgetWait } from './aws/waits';
import * as z from 'zod';
import { cleanupEnvSchema, type CleanupEnv } from '../contract/environment';
import { readEnv } from './runtime/environment';
import { findTaggedInstances, terminate } from './aws/instances';
import { logger } from './runtime/logger';
import { CLIENT_CONFIG, type CloudWatchSend, type Ec2Send, type S3Send, type SfnSend } from './aws/clients';
import { errorCode, isTransient } from './aws/aws-errors';
import type { ExistingInstance } from './aws/instances';
import { SPOT_INTERRUPTION_STATUS_CODES } from '../contract/aws-codes';
import { TAG } from '../contract/tags';
import { parseTaskInput } from './runtime/task-input';

const ec2 = new EC2Client(CLIENT_CONFIG);
const sfn = new SFNClient(CLIENT_CONFIG);
const s3 = new S3Client(CLIENT_CONFIG);
const cloudwatch = new CloudWatchClient(CLIENT_CONFIG);


export const statusChangeSchema = z.object({
  'detail-type': z.literal('Step Functions Execution Status Change'),
  detail: z.object({
    executionArn: z.string().min(1),
    stateMachineArn: z.string().optional(),
    status: z.string(),
    /** Epoch ms the execution (its current run) started and stopped (the event's detail.startDate, stopDate). */
    startDate: z.number().int().optional(),
    stopDate: z.number().int().optional(),
    /** The execution's name: a phase execution's starts with its phase (state-machines/stages/phase.ts, shards.ts). */
    name: z.string().optional(),
  }),
});
export type StatusChange = z.output<typeof statusChangeSchema>;

export interface CleanupResult {
  readonly executionArn: string;
  readonly status: string;
  readonly terminated: string[];
}

/**
 * When the execution's current run started, if it runs again (redriven since this end);
 * undefined when it is not running or Step Functions does not know it; 'unknown' when it would
 * not say (throttled past the SDK's retries).
 */
async function runningAgainSince(client: SfnSend, executionArn: string): Promise<number | undefined | 'unknown'> {
  try {
    const out = await client.send(new DescribeExecutionCommand({ executionArn }));
    if (out.status !== 'RUNNING') return undefined;
    const since = out.redriveDate ?? out.startDate;
    return since ? new Date(since).getTime() : Date.now();
  } catch (err) {
    if (errorCode(err) === 'ExecutionDoesNotExist') return undefined;
    if (isTransient(err)) {
      logger.warn('could not describe the execution; judging by launch times', { executionArn, error: errorCode(err) });
      return 'unknown';
    }
    throw err;
  }
}

/** The instances among these whose spot request says spot is taking them (its notice given). */
async function noticed(client: Ec2Send, instances: readonly ExistingInstance[]): Promise<Set<string>> {
  const requests = instances.filter((i) => i.spotRequestId !== undefined);
  if (requests.length === 0) return new Set();
  try {
    const out = await client.send(new DescribeSpotInstanceRequestsCommand({ SpotInstanceRequestIds: requests.map((i) => i.spotRequestId!) }));
    const taking = new Set((out.SpotInstanceRequests ?? []).filter((r) => (SPOT_INTERRUPTION_STATUS_CODES as readonly string[]).includes(r.Status?.Code ?? '')).map((r) => r.InstanceId));
    return new Set(requests.filter((i) => taking.has(i.id)).map((i) => i.id));
  } catch (err) {
    logger.warn('could not read the spot requests; terminating every instance of the execution', { error: errorCode(err) });
    return new Set();
  }
}

/** Launched before the moment (an instance with no launch time is treated as the later run's). */
const launchedBefore = (ms: number) => (i: ExistingInstance) => i.launchedAt !== undefined && Date.parse(i.launchedAt) < ms;

export async function cleanupExecution(clients: { ec2: Ec2Send; sfn: SfnSend; s3?: S3Send }, env: CleanupEnv, event: StatusChange): Promise<CleanupResult> {
  const { executionArn, status } = event.detail;
  // Only this pipeline's instances: they are the ones this function may terminate.
  const own = { [TAG.pipeline]: env.PIPELINE_NAME };
  const asPhase = await findTaggedInstances(clients.ec2, { ...own, [TAG.execution]: executionArn });
  const asPipeline = await findTaggedInstances(clients.ec2, { ...own, [TAG.run]: executionArn });
  let candidates = [...asPhase, ...asPipeline];
  if (candidates.length > 0) {
    const since = await runningAgainSince(clients.sfn, executionArn);
    if (since === 'unknown') {
      // Without the execution's word: a phase execution is never redriven (a pipeline redrive starts
      // a new one), so its instances all go; of a pipeline execution's, those launched before this
      // end (the event's stopDate) are the ended run's, later ones may be a redrive's.
      const stopDate = event.detail.stopDate;
      // (An instance the ended run was still launching when it stopped is terminated by its own
      // LaunchInstance, which looks at the execution after launching.)
      const fromEndedRun = stopDate === undefined ? () => false : launchedBefore(stopDate);
      candidates = [...asPhase, ...asPipeline.filter(fromEndedRun)];
    } else if (since !== undefined) {
      const stale = candidates.filter(launchedBefore(since));
      if (stale.length < candidates.length) logger.info('the execution was redriven and runs again; its current instances are left alone', { executionArn, status, kept: candidates.length - stale.length });
      candidates = stale;
    }
  }
  const leftToSpot = await noticed(clients.ec2, candidates);
  if (leftToSpot.size > 0) logger.info('instances spot has given its notice to are left to spot (their runners save the checkpoint)', { executionArn, instanceIds: [...leftToSpot] });
  const terminated = await terminate(clients.ec2, candidates.filter((i) => !leftToSpot.has(i.id)).map((i) => i.id));
  // The ended run's instances are waited for by nobody now (an abort or a sibling's failure stopped
  // the phase in its wait): a late wake for one (spot's warning) finds no token and stops.
  if (clients.s3 && env.PIPELINE_BUCKET) for (const i of candidates) await forgetWait(clients.s3, env.PIPELINE_BUCKET, env.PIPELINE_NAME, i.id);
  for (const id of terminated) logger.warn('terminated an instance of an execution that ended', { executionArn, status, instanceId: id });
  if (terminated.length === 0) logger.info('execution ended with nothing left running', { executionArn, status });
  return { executionArn, status, terminated };
}

/** The run of a pipeline execution that just ended: its redrive count (the execution runs again: the one before). */
async function endedRun(client: SfnSend, executionArn: string): Promise<number | undefined> {
  try {
    const out = await client.send(new DescribeExecutionCommand({ executionArn }));
    const redrives = out.redriveCount ?? 0;
    return out.status === 'RUNNING' ? Math.max(0, redrives - 1) : redrives;
  } catch (err) {
    logger.warn('could not describe the pipeline execution; its cost is not reported', { executionArn, error: errorCode(err) });
    return undefined;
  }
}

/** The PipelineCostUsd datum of a pipeline run that ended (see the header); undefined for a phase execution, or when not reported. */
export async function reportRunCost(clients: { sfn: SfnSend; s3: S3Send; cloudwatch: CloudWatchSend }, env: CleanupEnv, event: StatusChange): Promise<RunCost | undefined> {
  const { executionArn, stateMachineArn } = event.detail;
  if (!env.PIPELINE_BUCKET || !env.METRIC_NAMESPACE || !stateMachineArn?.endsWith(`:stateMachine:${env.PIPELINE_NAME}`)) return undefined;
  const redrive = await endedRun(clients.sfn, executionArn);
  if (redrive === undefined) return undefined;
  const prefix = runCostPrefix(env.PIPELINE_NAME, safeExecutionName(executionArn.split(':').at(-1) ?? ''), redrive);
  const cost = await runCost(clients.s3, env.PIPELINE_BUCKET, prefix);
  if (!(await claimCostReport(clients.s3, env.PIPELINE_BUCKET, prefix))) {
    logger.info('the run\'s cost was reported already', { executionArn, redrive });
    return undefined;
  }
  const datum = metricDatum(METRICS.pipelineCostUsd, { Pipeline: env.PIPELINE_NAME }, cost.costUsd, new Date(event.detail.stopDate ?? Date.now()));
  try {
    await clients.cloudwatch.send(new PutMetricDataCommand({ Namespace: env.METRIC_NAMESPACE, MetricData: [datum] }));
  } catch (err) {
    logger.error('could not put the run\'s cost datum; it is lost (the report was claimed)', { executionArn, error: errorCode(err), ...cost });
    return undefined;
  }
  logger.info('the run\'s cost', { executionArn, redrive, status: event.detail.status, ...cost });
  return cost;
}

/**
 * The PhaseDurationSeconds datum of a phase execution that ended (see contract/metrics.ts), from the
 * event's own start and stop: no call but the put. Never a reason to fail the cleanup.
 */
export async function reportPhaseDuration(client: CloudWatchSend, env: CleanupEnv, event: StatusChange): Promise<number | undefined> {
  const { stateMachineArn, startDate, stopDate, executionArn } = event.detail;
  if (!env.METRIC_NAMESPACE || !stateMachineArn?.endsWith(`:stateMachine:${spotPhaseName(env.PIPELINE_NAME)}`) || startDate === undefined || stopDate === undefined) return undefined;
  // Phase names hold no dash (contract/config.ts PHASE_NAME): the name's first segment is the phase.
  const phase = (event.detail.name ?? executionArn.split(':').at(-1) ?? '').split('-')[0];
  if (!phase) return undefined;
  const seconds = Math.max(0, Math.round((stopDate - startDate) / 1000));
  const datum = metricDatum(METRICS.phaseDurationSeconds, { Pipeline: env.PIPELINE_NAME, Phase: phase }, seconds, new Date(stopDate));
  try {
    await client.send(new PutMetricDataCommand({ Namespace: env.METRIC_NAMESPACE, MetricData: [datum] }));
    return seconds;
  } catch (err) {
    logger.warn('could not put the phase\'s duration datum', { executionArn, phase, error: errorCode(err) });
    return undefined;
  }
}

export async function handler(event: unknown): Promise<CleanupResult & { readonly costUsd?: number }> {
  const env = readEnv(cleanupEnvSchema);
  const change = parseTaskInput(statusChangeSchema, event, 'ExecutionCleanup');
  const result = await cleanupExecution({ ec2, sfn, s3 }, env, change);
  const cost = await reportRunCost({ sfn, s3, cloudwatch }, env, change);
  await reportPhaseDuration(cloudwatch, env, change);
  return { ...result, ...(cost ? { costUsd: cost.costUsd } : {}) };
}
