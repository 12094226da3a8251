import { describe, expect, it } from 'vitest';
import { initialJob, JOB_STATUS, jobSchema } from '../../contract/job';
import { formatIssues } from '../../contract/issues';
import { loadPipelineConfig } from '../../lib/config/load';
import { deployedStateMachines } from '../../simulator/template';
import { synthTemplate } from '../../simulator/synth';

describe('the job record', () => {
  it('the initial job is a valid version-1 launching job of attempt 1', () => {
    // Act
    const parsed = jobSchema.safeParse(initialJob());

    // Assess
    expect(parsed.success).toBe(true);
    expect(parsed.data).toMatchObject({ v: 1, status: 'launching', attempt: 1, poolCursor: 0, history: [] });
  });

  it.each<[string, unknown, RegExp]>([
    ['no version', { ...initialJob(), v: undefined }, /^v: /m],
    ['an unknown version', { ...initialJob(), v: 2 }, /^v: /m],
    ['an unknown status', { ...initialJob(), status: 'paused' }, /^status: /m],
    ['a running job without its command', { ...initialJob(), status: 'running', attemptStartedAt: '2026-05-30T09:00:00.000Z', instance: { id: 'i-1', instanceType: 'c5.large', subnetId: 'subnet-1', availabilityZone: 'us-east-1a', poolIndex: 0, launchedAt: '2026-05-30T09:00:00.000Z' } }, /^command: /m],
    ['a failed job without its failure', { ...initialJob(), status: 'failed', attemptStartedAt: '2026-05-30T09:00:00.000Z' }, /^failure: /m],
    ['a failure whose reason code is not in the closed set', { ...initialJob(), status: 'failed', attemptStartedAt: '2026-05-30T09:00:00.000Z', failure: { kind: 'interruption', reasonCode: 'gremlins', detail: 'x' } }, /^failure\.reasonCode: /m],
  ])('%s is refused, the field named', (_what, raw, field) => {
    // Act
    const parsed = jobSchema.safeParse(raw);

    // Assess
    expect(parsed.success).toBe(false);
    expect(formatIssues(parsed.error!)).toMatch(field);
  });
});

describe('the SpotPhase graph reads the contract', () => {
  const spotPhase = deployedStateMachines(synthTemplate(loadPipelineConfig())).find((sm) => sm.name.endsWith('-spot-phase'))!;
  const states = spotPhase.definition.States as Record<string, { Type: string; Parameters?: Record<string, unknown>; Choices?: { Variable: string; StringEquals?: string }[] }>;

  it('its first state writes exactly the initial job of the contract', () => {
    // Act
    const begin = states[spotPhase.definition.StartAt]!;

    // Assess
    expect(begin.Type).toBe('Pass');
    expect(begin.Parameters?.job).toEqual(initialJob());
  });

  it('every Choice on the job status tests a status value the contract exports', () => {
    // Prepare
    const statuses = Object.values(JOB_STATUS) as string[];

    // Act
    const tested = Object.values(states)
      .filter((s) => s.Type === 'Choice')
      .flatMap((s) => s.Choices ?? [])
      .filter((c) => c.Variable === '$.job.status')
      .map((c) => c.StringEquals);

    // Assess
    expect(tested.length).toBeGreaterThanOrEqual(5);
    expect(tested.filter((v) => !statuses.includes(v!))).toEqual([]);
  });
});
