/**
 * Step Functions history arithmetic (contract/history.ts): the worst case of one SpotPhase
 * execution, counted the way AWS records events, and the waits that keep every valid phase below
 * the 25,000-event quota. Pure.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_AGENT_CHECK_SECONDS,
  EVENTS_PER_STATE,
  EVENTS_PER_TASK_RETRY,
  HISTORY_EVENT_LIMIT,
  HISTORY_EVENT_TARGET,
  historyProblem,
  historySafeWaits,
  ONCE_EVENTS,
  pathEvents,
  RETRIES_PER_TASK,
  SPOT_PHASE_PATHS,
  NOTICE_CONFIRM_POLLS,
  WAKES_PER_ATTEMPT,
  worstCaseHistoryEvents,
  type PhaseWaits,
} from '../../contract/history';
import { allPhases, phaseSchema, phaseSpecSchema, toPhaseSpec } from '../../contract/config';
import { loadPipelineConfig } from '../../lib/config/load';

/** The longest budget the config schema admits, and its shortest poll interval. */
const MAX_BUDGET = 172800;
const MIN_POLL = 10;

describe('events per state, as AWS records them', () => {
  it('a Task records 5 (entered, scheduled, started, succeeded, exited) plus 3 per retry; Wait, Choice, Pass, Succeed 2; Fail 1', () => {
    // Prepare, Act
    const counts = { ...EVENTS_PER_STATE, retry: EVENTS_PER_TASK_RETRY };

    // Assess
    expect(counts).toEqual({ Task: 5, Wait: 2, Choice: 2, Pass: 2, Succeed: 2, Fail: 1, retry: 3 });
  });

  it('one poll (Wait, Task, Choice) records 9 events plus the retry allowance of its task', () => {
    // Prepare
    const poll = SPOT_PHASE_PATHS.poll;

    // Act
    const events = pathEvents(poll);

    // Assess
    expect(events).toBeCloseTo(2 + 5 + 2 + EVENTS_PER_TASK_RETRY * RETRIES_PER_TASK);
  });
});

describe('worstCaseHistoryEvents', () => {
  it('is the events recorded once plus the budget at the busiest mix of loops', () => {
    // Prepare: 1 h budget, polls every 60 s, agent checks every 20 s, 60 s relaunch backoff. The
    // busiest mix: relaunch (21.9 events) + one agent check (9.3) + send (7.3), the two early wakes
    // its workload may have (2 x 12.6: a callback wait, a poll, a Choice) and the four quick polls
    // after a notice (4 x 9.3) per 60 + 20 s.
    const waits: PhaseWaits = { budgetSeconds: 3600, pollIntervalSeconds: 60, agentCheckSeconds: 20, relaunchBackoffSeconds: 60 };
    const send = pathEvents(SPOT_PHASE_PATHS.send) + WAKES_PER_ATTEMPT * pathEvents(SPOT_PHASE_PATHS.pollEvent) + NOTICE_CONFIRM_POLLS * pathEvents(SPOT_PHASE_PATHS.poll);
    const busiest = (pathEvents(SPOT_PHASE_PATHS.relaunch) + pathEvents(SPOT_PHASE_PATHS.agentCheck) + send) / (60 + 20);

    // Act
    const events = worstCaseHistoryEvents(waits);

    // Assess
    expect(busiest).toBeCloseTo(100.9 / 80);
    expect(events).toBe(Math.ceil(ONCE_EVENTS + 3600 * busiest));
    expect(events).toBe(5238);
  });

  it('exceeds the quota for a valid 48-hour phase polling every 10 s, unless its waits adapt', () => {
    // Prepare
    const configured = { budgetSeconds: MAX_BUDGET, pollIntervalSeconds: MIN_POLL, relaunchBackoffSeconds: 60 };

    // Act
    const unadapted = worstCaseHistoryEvents({ ...configured, agentCheckSeconds: DEFAULT_AGENT_CHECK_SECONDS });
    const adapted = worstCaseHistoryEvents({ ...configured, ...historySafeWaits(configured) });

    // Assess
    expect(unadapted).toBeGreaterThan(HISTORY_EVENT_LIMIT);
    expect(historyProblem({ ...configured, agentCheckSeconds: DEFAULT_AGENT_CHECK_SECONDS })).toMatch(/could record \d+ history events .*fails an execution at 25000/);
    expect(adapted).toBeLessThanOrEqual(HISTORY_EVENT_TARGET);
    expect(historyProblem({ ...configured, ...historySafeWaits(configured) })).toBeUndefined();
  });

  it('is unbounded with no relaunch backoff: refused launches would loop as fast as Lambda answers', () => {
    // Prepare
    const waits: PhaseWaits = { budgetSeconds: 3600, pollIntervalSeconds: 60, agentCheckSeconds: 20, relaunchBackoffSeconds: 0 };

    // Act
    const events = worstCaseHistoryEvents(waits);

    // Assess
    expect(events).toBe(Infinity);
    expect(historyProblem(waits)).toContain('unbounded');
  });
});

describe('historySafeWaits', () => {
  it('keeps the configured waits of the built-in phases (budgets up to 3 h)', () => {
    // Prepare
    const phases = allPhases(loadPipelineConfig());

    // Act
    const waits = phases.map(historySafeWaits);

    // Assess
    expect(phases).toHaveLength(4);
    for (const w of waits) expect(w).toEqual({ pollIntervalSeconds: 60, agentCheckSeconds: DEFAULT_AGENT_CHECK_SECONDS, relaunchBackoffSeconds: 60 });
  });

  it('raises the waits of a 48-hour budget: polls every 109 s, agent checks every 69 s, 680 s between relaunches', () => {
    // Prepare
    const phase = { budgetSeconds: MAX_BUDGET, pollIntervalSeconds: MIN_POLL, relaunchBackoffSeconds: 60 };

    // Act
    const waits = historySafeWaits(phase);

    // Assess
    expect(waits).toEqual({ pollIntervalSeconds: 109, agentCheckSeconds: 69, relaunchBackoffSeconds: 680 });
  });

  it('never shortens a configured wait', () => {
    // Prepare
    const phase = { budgetSeconds: MAX_BUDGET, pollIntervalSeconds: 900, relaunchBackoffSeconds: 3600 };

    // Act
    const waits = historySafeWaits(phase);

    // Assess
    expect(waits.pollIntervalSeconds).toBe(900);
    expect(waits.relaunchBackoffSeconds).toBe(3600);
  });

  it('keeps every valid phase below the quota, with waits the phase spec admits', () => {
    // Prepare: budgets across the schema's range, with the shortest waits it admits.
    const budgets = [phaseSchema.shape.budgetSeconds.minValue!, 600, 3600, 10800, 36000, 48000, 50000, 86400, 129600, MAX_BUDGET - 1, MAX_BUDGET];
    const extremes = budgets.flatMap((budgetSeconds) => [
      { budgetSeconds, pollIntervalSeconds: MIN_POLL, relaunchBackoffSeconds: 0 },
      { budgetSeconds, pollIntervalSeconds: 60, relaunchBackoffSeconds: 60 },
    ]);

    // Act
    const results = extremes.map((phase) => {
      const waits = historySafeWaits(phase);
      return { phase, waits, events: worstCaseHistoryEvents({ ...phase, ...waits }) };
    });

    // Assess
    expect(phaseSchema.shape.budgetSeconds.maxValue).toBe(MAX_BUDGET);
    for (const { phase, waits, events } of results) {
      const label = JSON.stringify(phase);
      expect(events, label).toBeLessThanOrEqual(HISTORY_EVENT_TARGET);
      expect(waits.pollIntervalSeconds, label).toBeGreaterThanOrEqual(phase.pollIntervalSeconds);
      expect(waits.relaunchBackoffSeconds, label).toBeGreaterThanOrEqual(phase.relaunchBackoffSeconds);
      expect(waits.agentCheckSeconds, label).toBeGreaterThanOrEqual(DEFAULT_AGENT_CHECK_SECONDS);
      expect(phaseSpecSchema.shape.pollIntervalSeconds.safeParse(waits.pollIntervalSeconds).success, label).toBe(true);
      expect(phaseSpecSchema.shape.relaunchBackoffSeconds.safeParse(waits.relaunchBackoffSeconds).success, label).toBe(true);
      expect(phaseSpecSchema.shape.agentCheckSeconds.safeParse(waits.agentCheckSeconds).success, label).toBe(true);
    }
  });
});

describe('the phase spec carries the waits a phase runs with', () => {
  const pipeline = { subnetIds: ['subnet-0123abcd'], cleanupMarginSeconds: 300, pipelineName: 'saturday-pipeline' };

  it('toPhaseSpec hands a 48-hour phase its raised waits, and the new agentCheckSeconds', () => {
    // Prepare
    const phase = phaseSchema.parse({ name: 'Long', workloadCommand: 'run', instanceTypes: ['c5.large'], budgetSeconds: MAX_BUDGET, attemptSeconds: 3600, pollIntervalSeconds: MIN_POLL });

    // Act
    const spec = toPhaseSpec(phase, pipeline);

    // Assess
    expect(spec).toMatchObject({ pollIntervalSeconds: 109, agentCheckSeconds: 69, relaunchBackoffSeconds: 680 });
    expect(phaseSpecSchema.parse(spec)).toEqual(spec);
  });

  it('a spec written before agentCheckSeconds existed still parses, checking the agent every 20 s', () => {
    // Prepare: the spec of an execution started by an older deployment, redriven with new Lambda code.
    const phase = phaseSchema.parse({ name: 'DataPhase1', workloadCommand: 'run', instanceTypes: ['c5.large'], budgetSeconds: 5400, attemptSeconds: 2400 });
    const { agentCheckSeconds: _dropped, ...oldSpec } = toPhaseSpec(phase, pipeline);

    // Act
    const parsed = phaseSpecSchema.parse(oldSpec);

    // Assess
    expect('agentCheckSeconds' in oldSpec).toBe(false);
    expect(parsed.agentCheckSeconds).toBe(20);
  });
});
