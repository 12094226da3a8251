/**
 * ReapOrphans: every 30 minutes, find the pipeline's instances whose execution is no longer
 * RUNNING (or that are older than the longest phase budget plus a margin) and terminate them.
 * Logs each one and puts an OrphansReaped datum. With DRY_RUN=true it only reports.
 * When an execution's status cannot be read (throttling), its instances are left for next time.
 */
import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { errorCode } from './shared/aws-errors';
import { readEnv } from './shared/environment';
import { findTaggedInstances, terminate } from './shared/instance-status';
import { logger } from './shared/logger';
import { orphanVerdict } from './shared/orphans';
import type { CloudWatchSend, Ec2Send } from './shared/sends';
import { TAG } from './shared/tags';

const ec2 = new EC2Client({ maxAttempts: 5 });
const sfn = new SFNClient({ maxAttempts: 5 });
const cloudwatch = new CloudWatchClient({ maxAttempts: 5 });

export const ORPHANS_METRIC = 'OrphansReaped';

export const reaperEnvSchema = z.object({
  PIPELINE_NAME: z.string().min(1),
  METRIC_NAMESPACE: z.string().min(1),
  MAX_AGE_SECONDS: z.coerce.number().int().positive(),
  DRY_RUN: z.enum(['true', 'false']).default('false'),
});
export type ReaperEnv = z.output<typeof reaperEnvSchema>;

export type SfnSend = Pick<SFNClient, 'send'>;

export interface ReapResult {
  readonly dryRun: boolean;
  readonly orphans: { instanceId: string; why: string }[];
  readonly terminated: string[];
}

async function executionStatus(client: SfnSend, executionArn: string | undefined): Promise<string | undefined> {
  if (!executionArn) return undefined;
  try {
    const out = await client.send(new DescribeExecutionCommand({ executionArn }));
    return out.status ?? 'UNKNOWN';
  } catch (err) {
    if (errorCode(err) === 'ExecutionDoesNotExist') return 'DOES_NOT_EXIST';
    logger.warn('could not read execution status; instance left for the next round', { executionArn, error: errorCode(err) });
    return 'UNKNOWN';
  }
}

export async function reapOrphans(clients: { ec2: Ec2Send; sfn: SfnSend; cloudwatch: CloudWatchSend }, env: ReaperEnv): Promise<ReapResult> {
  const dryRun = env.DRY_RUN === 'true';
  const now = Date.now();
  const instances = await findTaggedInstances(clients.ec2, { [TAG.pipeline]: env.PIPELINE_NAME });
  const statuses = new Map<string, Promise<string | undefined>>();
  const orphans: { instanceId: string; why: string }[] = [];
  for (const instance of instances) {
    const arn = instance.tags?.[TAG.execution];
    if (arn && !statuses.has(arn)) statuses.set(arn, executionStatus(clients.sfn, arn));
    const verdict = orphanVerdict({
      executionStatus: arn ? await statuses.get(arn) : undefined,
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
      MetricData: [{ MetricName: ORPHANS_METRIC, Value: terminated.length, Unit: 'Count', Timestamp: new Date(now), Dimensions: [{ Name: 'Pipeline', Value: env.PIPELINE_NAME }] }],
    }),
  );
  logger.info('orphan sweep done', { dryRun, seen: instances.length, orphans: orphans.length, terminated: terminated.length });
  return { dryRun, orphans, terminated };
}

export async function handler(): Promise<ReapResult> {
  return reapOrphans({ ec2, sfn, cloudwatch }, readEnv(reaperEnvSchema));
}
