/**
 * FinishPhase: the command succeeded. Terminate the instance (and anything else this phase
 * execution still has running) and report the phase.
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { terminateExecutionInstances } from './shared/instance-status';
import { phaseTaskInputSchema, poolLabel, type AttemptRecord, type PhaseTaskInput } from './shared/job';
import { retryableOnTransient } from './shared/aws-errors';
import { logger } from './shared/logger';
import { isoNow } from './shared/phase-clock';
import type { Ec2Send } from './shared/sends';
import { parseTaskInput } from './shared/task-input';

const ec2 = new EC2Client({ maxAttempts: 5 });

export interface PhaseSummary {
  readonly phase: string;
  readonly mode: 'full' | 'preflight';
  readonly outcome: 'succeeded' | 'preflight-ok';
  readonly attempts: number;
  readonly launches: AttemptRecord[];
  readonly lastOutput: string;
}

export async function finishPhase(client: Ec2Send, input: PhaseTaskInput): Promise<PhaseSummary> {
  const { phase, run, execution, job } = input;
  const terminated = await terminateExecutionInstances(client, execution.id, { instanceId: job.instance?.id });
  const outcome = run.mode === 'preflight' ? 'preflight-ok' : 'succeeded';
  const record: AttemptRecord = {
    attempt: job.attempt,
    instanceId: job.instance?.id ?? null,
    pool: job.instance ? poolLabel(job.instance) : null,
    outcome,
    startedAt: job.attemptStartedAt ?? isoNow(),
    endedAt: isoNow(),
  };
  logger.info('phase finished', { phase: phase.name, outcome, attempts: job.attempt, terminated });
  return {
    phase: phase.name,
    mode: run.mode,
    outcome,
    attempts: job.attempt,
    launches: [...job.history, record],
    lastOutput: job.command?.lastOutput ?? '',
  };
}

export async function handler(event: unknown): Promise<PhaseSummary> {
  const input = parseTaskInput(phaseTaskInputSchema, event, 'FinishPhase');
  return retryableOnTransient(() => finishPhase(ec2, input));
}
