import { describe, expect, it } from 'vitest';
import {
  affordableAttempts,
  budgetProblem,
  COUNT_EXHAUSTED_RETRY,
  COUNT_EXHAUSTED_WORST_SECONDS,
  COUNT_RELAUNCH_RETRY,
  COUNT_RELAUNCH_WORST_SECONDS,
  END_RESERVE_SECONDS,
  MIN_CLEANUP_WINDOW_SECONDS,
  READ_OVERRUN_SECONDS,
  relaunchGapSeconds,
  retryWorstWaitSeconds,
  workDeadline,
  type PhaseBudget,
} from '../../contract/budget';
import { mayRelaunch, secondsNeeded } from '../../decisions/relaunch';
import { loadPipelineConfig } from '../../lib/config/load';
import { allPhases, pipelineConfigSchema } from '../../contract/config';

const MARGIN = 300;
const T0 = Date.parse('2026-05-30T09:00:00Z');
const dataPhase1: PhaseBudget = { budgetSeconds: 5400, attemptSeconds: 2400, relaunchBackoffSeconds: 60 };

describe('affordableAttempts', () => {
  it.each([
    ['DataPhase1', 5400, 2400, 2],
    ['Research', 7200, 3000, 2],
    ['PredictorTraining', 10800, 4800, 2],
    ['Backtester', 7200, 3000, 2],
  ])('%s (%i s budget, %i s per attempt) affords %i attempts', (_name, budgetSeconds, attemptSeconds, expected) => {
    // Prepare
    const phase: PhaseBudget = { budgetSeconds, attemptSeconds, relaunchBackoffSeconds: 60 };

    // Act
    const attempts = affordableAttempts(phase, MARGIN);

    // Assess
    expect(attempts).toBe(expected);
  });

  it('the built-in Saturday pipeline gives every phase two attempts and no budget problem', () => {
    // Prepare
    const config = loadPipelineConfig();

    // Act
    const rows = allPhases(config).map((p) => ({
      name: p.name,
      attempts: affordableAttempts(p, config.cleanupMarginSeconds),
      problem: budgetProblem(p, config.cleanupMarginSeconds),
    }));

    // Assess
    expect(config.cleanupMarginSeconds).toBe(MARGIN);
    expect(rows).toEqual([
      { name: 'DataPhase1', attempts: 2, problem: undefined },
      { name: 'Research', attempts: 2, problem: undefined },
      { name: 'PredictorTraining', attempts: 2, problem: undefined },
      { name: 'Backtester', attempts: 2, problem: undefined },
    ]);
  });

  it.each([
    ['exactly one attempt plus the margin', { budgetSeconds: 2700, attemptSeconds: 2400, relaunchBackoffSeconds: 60 }, 1],
    ['one second short of one attempt', { budgetSeconds: 2699, attemptSeconds: 2400, relaunchBackoffSeconds: 60 }, 0],
    ['exactly two attempts, one backoff and counting the relaunch', { budgetSeconds: 300 + 2400 + 60 + COUNT_RELAUNCH_WORST_SECONDS + 2400, attemptSeconds: 2400, relaunchBackoffSeconds: 60 }, 2],
    ['one second short of two attempts', { budgetSeconds: 300 + 2400 + 60 + COUNT_RELAUNCH_WORST_SECONDS + 2400 - 1, attemptSeconds: 2400, relaunchBackoffSeconds: 60 }, 1],
    ['a budget smaller than the cleanup margin', { budgetSeconds: 200, attemptSeconds: 60, relaunchBackoffSeconds: 60 }, 0],
  ])('boundary: %s', (_name, phase, expected) => {
    // Prepare: the row's phase.

    // Act
    const attempts = affordableAttempts(phase, MARGIN);

    // Assess
    expect(attempts).toBe(expected);
  });
});

describe('budgetProblem', () => {
  it('an attempt longer than the whole budget', () => {
    // Prepare
    const phase: PhaseBudget = { budgetSeconds: 1800, attemptSeconds: 2400, relaunchBackoffSeconds: 60 };

    // Act
    const problem = budgetProblem(phase, MARGIN);

    // Assess
    expect(problem).toBe('attemptSeconds 2400 exceeds budgetSeconds 1800');
  });

  it('a budget that cannot hold one attempt plus the cleanup margin', () => {
    // Prepare
    const phase: PhaseBudget = { budgetSeconds: 2500, attemptSeconds: 2400, relaunchBackoffSeconds: 60 };

    // Act
    const problem = budgetProblem(phase, MARGIN);

    // Assess
    expect(problem).toContain('budgetSeconds 2500 cannot hold one attempt of attemptSeconds 2400');
    expect(problem).toContain('cleanup margin of 300 s');
  });

  it('maxAttempts the budget cannot fit names the numbers', () => {
    // Prepare
    const phase: PhaseBudget = { ...dataPhase1, maxAttempts: 3 };

    // Act
    const problem = budgetProblem(phase, MARGIN);

    // Assess
    expect(problem).toContain('maxAttempts 3 cannot fit');
    expect(problem).toContain('budgetSeconds 5400 holds at most 2 attempt(s) of attemptSeconds 2400');
    expect(problem).toContain('60 s relaunch backoff');
    expect(problem).toContain('300 s cleanup margin');
  });

  it.each([1, 2, undefined])('maxAttempts %s that fits is no problem', (maxAttempts) => {
    // Prepare
    const phase: PhaseBudget = { ...dataPhase1, maxAttempts };

    // Act
    const problem = budgetProblem(phase, MARGIN);

    // Assess
    expect(problem).toBeUndefined();
  });
});

describe('mayRelaunch (DataPhase1: work deadline at start + 5100 s)', () => {
  const deadlineMs = workDeadline(T0, 5400, MARGIN);
  const ask = (elapsedSeconds: number, attempt = 1, phase: PhaseBudget = dataPhase1, savedProgress?: number) =>
    mayRelaunch({ phase: { bootTimeoutSeconds: 600, ...phase }, nowMs: T0 + elapsedSeconds * 1000, deadlineMs, attempt, savedProgress });

  it('the work deadline leaves the cleanup margin free', () => {
    // Prepare: the deadline above.

    // Act
    const seconds = (deadlineMs - T0) / 1000;

    // Assess
    expect(seconds).toBe(5100);
  });

  it.each([
    ['interrupted early (600 s in)', 600],
    ['interrupted at the end of a full attempt (2400 s in)', 2400],
    ['exactly enough left after the backoff and counting the relaunch (2530 s in)', 2530],
  ])('%s: relaunch after the backoff', (_name, elapsed) => {
    // Prepare: the row's elapsed time.

    // Act
    const answer = ask(elapsed);

    // Assess: DataPhase1's budget affords two attempts: the one after the first failure is its last.
    expect(answer).toEqual({ relaunch: true, backoffSeconds: 60, lastAffordable: true });
  });

  it('a budget that holds more attempts: the next one is not the last (an on-demand fallback on the last attempt waits)', () => {
    // Prepare: twice DataPhase1's budget.
    const long = mayRelaunch({ phase: { bootTimeoutSeconds: 600, ...dataPhase1, budgetSeconds: 10800 }, nowMs: T0 + 600_000, deadlineMs: workDeadline(T0, 10800, MARGIN), attempt: 1 });

    // Act / Assess
    expect(long).toEqual({ relaunch: true, backoffSeconds: 60, lastAffordable: false });
  });

  it.each([
    ['one second too late (2531 s in)', 2531, '2399 s of budget left after the backoff and counting the relaunch, an attempt needs 2400 s'],
    ['half the budget gone (3000 s in)', 3000, '1930 s of budget left after the backoff and counting the relaunch, an attempt needs 2400 s'],
    ['past the deadline', 6000, '0 s of budget left after the backoff and counting the relaunch, an attempt needs 2400 s'],
  ])('%s: no relaunch, and says why', (_name, elapsed, why) => {
    // Prepare: the row's elapsed time.

    // Act
    const answer = ask(elapsed);

    // Assess
    expect(answer).toEqual({ relaunch: false, why });
  });

  it('maxAttempts reached: no relaunch even with budget to spare', () => {
    // Prepare
    const phase: PhaseBudget = { ...dataPhase1, maxAttempts: 2 };

    // Act
    const second = ask(60, 2, phase);
    const first = ask(60, 1, phase);

    // Assess
    expect(second).toEqual({ relaunch: false, why: 'maxAttempts 2 reached' });
    expect(first).toEqual({ relaunch: true, backoffSeconds: 60, lastAffordable: true });
  });
});

describe('what runs after the deadline fits the smallest cleanup margin', () => {
  it('the read overrun, a cleanup window and the end reserve fit in the 60 s the smallest margin has', () => {
    // Prepare: the smallest margin the config accepts.
    const smallest = pipelineConfigSchema.shape.cleanupMarginSeconds.unwrap().minValue!;

    // Act
    const needed = READ_OVERRUN_SECONDS + MIN_CLEANUP_WINDOW_SECONDS + END_RESERVE_SECONDS;

    // Assess
    expect(needed).toBeLessThanOrEqual(smallest);
  });

  it('CountExhausted, retried to its worst, fits the end reserve with time for the last transitions', () => {
    // Act
    const worst = COUNT_EXHAUSTED_WORST_SECONDS;

    // Assess: waits 1 + 2 s, three calls.
    expect(retryWorstWaitSeconds(COUNT_EXHAUSTED_RETRY)).toBe(3);
    expect(worst).toBe(6);
    expect(worst).toBeLessThan(END_RESERVE_SECONDS);
  });

  it('a relaunch reserves CountRelaunch\'s worst case: 14 retries ride out 14 consecutive throttles', () => {
    // Act
    const gap = relaunchGapSeconds({ relaunchBackoffSeconds: 60 });

    // Assess: waits 1, 2, 4, then 8 s eleven times; fifteen calls.
    expect(retryWorstWaitSeconds(COUNT_RELAUNCH_RETRY)).toBe(1 + 2 + 4 + 8 * 11);
    expect(gap).toBe(60 + COUNT_RELAUNCH_WORST_SECONDS);
    expect(COUNT_RELAUNCH_WORST_SECONDS).toBe(95 + 15);
  });

  it('every handler builds its clients with the one client configuration', async () => {
    // Prepare
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = join(__dirname, '..', '..', 'lambdas');

    // Act
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    const constructed = files.flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/new (\w+Client)\(([^)]*)\)/g)].map((m) => `${f}: ${m[1]}(${m[2]})`));

    // Assess
    expect(constructed.length).toBeGreaterThan(5);
    for (const c of constructed) expect(c).toMatch(/\(CLIENT_CONFIG\)$/);
  });
});

describe('mayRelaunch counts the work a checkpoint saved (DataPhase1: attempt 2400 s, boot timeout 600 s)', () => {
  const deadlineMs = workDeadline(T0, 5400, MARGIN);
  const ask = (elapsedSeconds: number, savedProgress?: number) =>
    mayRelaunch({ phase: { ...dataPhase1, bootTimeoutSeconds: 600 }, nowMs: T0 + elapsedSeconds * 1000, deadlineMs, attempt: 1, savedProgress });

  it.each([
    [undefined, 2400],
    [0, 2400],
    [0.5, 1500],
    [0.75, 1050],
    [0.95, 780],
    [1, 780],
    [7, 780],
    [-1, 2400],
  ])('saved progress %s: the next attempt needs %i s', (progress, needed) => {
    // Act
    const seconds = secondsNeeded({ ...dataPhase1, bootTimeoutSeconds: 600 }, progress);

    // Assess
    expect(seconds).toBe(needed);
  });

  it('relaunches late in the budget when the checkpoint saved most of the work, and not when it saved none', () => {
    // Prepare: 2600 s in, 2500 s left before the work deadline, less the relaunch gap.
    const elapsed = 2600;

    // Act
    const withCheckpoint = ask(elapsed, 0.67);
    const without = ask(elapsed);

    // Assess
    expect(withCheckpoint).toMatchObject({ relaunch: true });
    expect(without).toMatchObject({ relaunch: false });
    expect(without.relaunch === false && without.why).toMatch(/an attempt needs 2400 s$/);
  });

  it('says how much the checkpoint took off when even that does not fit', () => {
    // Act
    const answer = ask(4800, 0.5);

    // Assess
    expect(answer.relaunch).toBe(false);
    expect(answer.relaunch === false && answer.why).toMatch(/an attempt needs 1500 s \(2400 s less the 50% of the work its checkpoint saved\)/);
  });
});
