/**
 * ReapOrphans: every 30 minutes, find the pipeline's instances whose execution is no longer
 * RUNNING and stopped longer ago than the cleanup grace (decisions/orphans.ts), or that are older
 * than the longest phase budget plus a margin, and terminate them.
 * Logs each one and puts an OrphansReaped datum. With DRY_RUN=true it only reports.
 * When an execution's status cannot be read (throttling), its instances are left for next time.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { errorCode } from './aws/aws-errors';
import { reaperEnvSchema, type ReaperEnv } from '../contract/environment';
import { METRICS, metricDatum } from '../contract/metrics';
import { readEnv } from './runtime/environment';
import { findTaggedInstances, terminate } from './aws/instances';
import { logger } from './runtime/logger';
import { orphanVerdict } from '../decisions/orphans';
import { CLIENT_CONFIG, type CloudWatchSend, type Ec2Send, type SfnSend } from './aws/clients';
import { TAG } from '../contract/tags';

const ec2 = new EC2Client(CLIENT_CONFIG);
const sfn = new SFNClient(CLIENT_CONFIG);
const cloudwatch = new CloudWatchClient(CLIENT_CONFIG);


export interface ReapResult {
  readonly dryRun: boolean;
  readonly orphans: { instanceId: string; why: string }[];
  readonly terminated: string[];
}

interface ExecutionState {
  readonly status: string;
  readonly stoppedAtMs?: number;
}

async function executionState(client: SfnSend, executionArn: string): Promise<ExecutionState> {
  try {
    const out = await client.send(new DescribeExecutionCommand({ executionArn }));
    return { status: out.status ?? 'UNKNOWN', stoppedAtMs: out.stopDate ? new Date(out.stopDate).getTime() : undefined };
  } catch (err) {
    if (errorCode(err) === 'ExecutionDoesNotExist') return { status: 'DOES_NOT_EXIST' };
    logger.warn('could not read execution status; instance left for the next round', { executionArn, error: errorCode(err) });
    return { status: 'UNKNOWN' };
  }
}

export async function reapOrphans(clients: { ec2: Ec2Send; sfn: SfnSend; cloudwatch: CloudWatchSend }, env: ReaperEnv): Promise<ReapResult> {
  const dryRun = env.DRY_RUN === 'true';
  const now = Date.now();
  const instances = await findTaggedInstances(clients.ec2, { [TAG.pipeline]: env.PIPELINE_NAME });
  const states = new Map<string, Promise<ExecutionState>>();
  const orphans: { instanceId: string; why: string }[] = [];
  for (const instance of instances) {
    const arn = instance.tags?.[TAG.execution];
    if (arn && !states.has(arn)) states.set(arn, executionState(clients.sfn, arn));
    const state = arn ? await states.get(arn) : undefined;
    const verdict = orphanVerdict({
      executionStatus: state?.status,
      stoppedAtMs: state?.stoppedAtMs,
      launchedAtMs: instance.launchedAt ? Date.parse(instance.launchedAt) : undefined,
      nowMs: now,
      maxAgeSeconds: env.MAX_AGE_SECONDS,
    });
    if (verdict.orphan) {
      orphans.push({ instanceId: instance.id, why: verdict.why });
      logger.warn(dryRun ? 'orphan found (dry run: left running)' : 'reaping orphan', { instanceId: instance.id, executionArn: arn, why: verdict.why });
    }
  }
  const terminated = dryRun ? [] : await terminate(clients.ec2, orphans.map((o) => o.instanceId));
  await clients.cloudwatch.send(
    new PutMetricDataCommand({
      Namespace: env.METRIC_NAMESPACE,
      MetricData: [metricDatum(METRICS.orphansReaped, { Pipeline: env.PIPELINE_NAME }, terminated.length, new Date(now))],
    }),
  );
  logger.info('orphan sweep done', { dryRun, seen: instances.length, orphans: orphans.length, terminated: terminated.length });
  return { dryRun, orphans, terminated };
}

export async function handler(): Promise<ReapResult> {
  return reapOrphans({ ec2, sfn, cloudwatch }, readEnv(reaperEnvSchema));
}
