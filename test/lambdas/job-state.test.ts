/** A task handed a job it cannot act on fails with UnexpectedJobState: never a spot interruption, never an AWS call. */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UnexpectedJobState } from '../../contract/errors';
import { handler as awaitAgent } from '../../lambdas/await-agent';
import { handler as finishPhase } from '../../lambdas/finish-phase';
import { handler as handleFailure } from '../../lambdas/handle-failure';
import { handler as launchInstance } from '../../lambdas/launch-instance';
import { handler as pollWorkload } from '../../lambdas/poll-workload';
import { handler as sendWorkload } from '../../lambdas/send-workload';
import { at, clockAt, iso, job, runningJob, stubHandlerEnv, taskInput } from './fixtures';

const clients = [mockClient(EC2Client), mockClient(SSMClient), mockClient(CloudWatchClient), mockClient(CloudWatchLogsClient)];

beforeEach(() => {
  for (const c of clients) c.reset();
  stubHandlerEnv();
  clockAt(at(600));
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

const launching = job();
const running = runningJob();
const failed = job({ status: 'failed', attemptStartedAt: iso(at(0)), failure: { kind: 'interruption', reasonCode: 'capacity-exhausted', detail: 'x' } });

describe('a job in a status the task cannot act on', () => {
  it.each([
    ['CheckAgent', awaitAgent, launching, 'launching'],
    ['SendWorkload', sendWorkload, launching, 'launching'],
    ['PollWorkload', pollWorkload, launching, 'launching'],
    ['PollWorkload', pollWorkload, failed, 'failed'],
    ['FinishPhase', finishPhase, running, 'running'],
    ['HandleFailure', handleFailure, running, 'running'],
    ['LaunchInstance', launchInstance, running, 'running'],
  ] as const)('%s handed a %s job fails with UnexpectedJobState and calls no AWS API', async (task, handler, given, status) => {
    // Act
    const result = handler(taskInput({ job: given }));

    // Assess
    await expect(result).rejects.toThrow(UnexpectedJobState);
    await expect(result).rejects.toThrow(`${task} cannot act on a job in status "${status}"`);
    expect(clients.map((c) => c.calls().length)).toEqual([0, 0, 0, 0]);
  });
});
