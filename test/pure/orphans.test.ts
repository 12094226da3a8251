import { describe, expect, it } from 'vitest';
import { orphanVerdict, type OrphanQuestion } from '../../decisions/orphans';

const NOW = Date.parse('2026-05-30T12:00:00.000Z');
const MAX_AGE = 12_900;

/** An instance launched an hour ago, well inside the age limit. */
function question(overrides: Partial<OrphanQuestion> = {}): OrphanQuestion {
  return { executionStatus: 'RUNNING', launchedAtMs: NOW - 3_600_000, nowMs: NOW, maxAgeSeconds: MAX_AGE, ...overrides };
}

describe('orphanVerdict: by execution status', () => {
  it('an instance of a RUNNING execution is not an orphan', () => {
    // Prepare
    const q = question({ executionStatus: 'RUNNING' });

    // Act
    const verdict = orphanVerdict(q);

    // Assess
    expect(verdict.orphan).toBe(false);
    expect(verdict.why).toMatch(/running/);
  });

  it.each(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT', 'DOES_NOT_EXIST'])('an instance of a %s execution is an orphan, and the verdict names the status', (status) => {
    // Prepare
    const q = question({ executionStatus: status });

    // Act
    const verdict = orphanVerdict(q);

    // Assess
    expect(verdict.orphan).toBe(true);
    expect(verdict.why).toContain(status);
  });

  it('an instance of an execution that stopped moments ago is left to the execution-cleanup rule (no race, no false alarm)', () => {
    // Prepare: the execution failed 5 s ago; the cleanup rule terminates its instance a second later.
    const q = question({ executionStatus: 'FAILED', stoppedAtMs: NOW - 5_000 });

    // Act
    const verdict = orphanVerdict(q);

    // Assess
    expect(verdict.orphan).toBe(false);
    expect(verdict.why).toMatch(/cleanup rule acts first/);
  });

  it('an instance of an execution stopped longer ago than the grace is an orphan', () => {
    // Prepare
    const q = question({ executionStatus: 'FAILED', stoppedAtMs: NOW - 16 * 60_000 });

    // Act
    const verdict = orphanVerdict(q);

    // Assess
    expect(verdict.orphan).toBe(true);
  });

  it('an instance without an execution tag (status undefined) is an orphan', () => {
    // Prepare
    const q = question({ executionStatus: undefined });

    // Act
    const verdict = orphanVerdict(q);

    // Assess
    expect(verdict.orphan).toBe(true);
    expect(verdict.why).toMatch(/no execution tag/);
  });

  it("an execution whose status could not be read ('UNKNOWN') leaves its instance alone this round", () => {
    // Prepare
    const q = question({ executionStatus: 'UNKNOWN' });

    // Act
    const verdict = orphanVerdict(q);

    // Assess
    expect(verdict.orphan).toBe(false);
    expect(verdict.why).toMatch(/unreadable/);
  });

  it('an instance with no launch time is judged by its execution alone', () => {
    // Prepare
    const running = question({ launchedAtMs: undefined, executionStatus: 'RUNNING' });
    const ended = question({ launchedAtMs: undefined, executionStatus: 'SUCCEEDED' });

    // Act
    const verdicts = [orphanVerdict(running), orphanVerdict(ended)];

    // Assess
    expect(verdicts.map((v) => v.orphan)).toEqual([false, true]);
  });
});

describe('orphanVerdict: by age', () => {
  it.each([
    { status: 'RUNNING', ageSeconds: MAX_AGE + 1, orphan: true },
    { status: 'UNKNOWN', ageSeconds: MAX_AGE + 1, orphan: true },
    { status: 'RUNNING', ageSeconds: MAX_AGE + 0.001, orphan: true },
    { status: 'RUNNING', ageSeconds: MAX_AGE * 10, orphan: true },
    { status: 'RUNNING', ageSeconds: MAX_AGE, orphan: false },
    { status: 'UNKNOWN', ageSeconds: MAX_AGE, orphan: false },
    { status: 'RUNNING', ageSeconds: MAX_AGE - 1, orphan: false },
    { status: 'RUNNING', ageSeconds: 0, orphan: false },
  ])('an instance $ageSeconds s old whose execution is $status: orphan $orphan', ({ status, ageSeconds, orphan }) => {
    // Prepare
    const q = question({ executionStatus: status, launchedAtMs: NOW - ageSeconds * 1000 });

    // Act
    const verdict = orphanVerdict(q);

    // Assess
    expect(verdict.orphan).toBe(orphan);
  });

  it('an instance older than maxAgeSeconds is an orphan even while its execution is RUNNING, and the verdict says why', () => {
    // Prepare
    const q = question({ executionStatus: 'RUNNING', launchedAtMs: NOW - (MAX_AGE + 600) * 1000 });

    // Act
    const verdict = orphanVerdict(q);

    // Assess
    expect(verdict).toEqual({ orphan: true, why: expect.stringContaining(String(MAX_AGE)) });
    expect(verdict.why).toContain(String(MAX_AGE + 600));
  });

  it('exactly at the limit is not an orphan (the limit is inclusive)', () => {
    // Prepare
    const q = question({ executionStatus: 'RUNNING', launchedAtMs: NOW - MAX_AGE * 1000 });

    // Act
    const verdict = orphanVerdict(q);

    // Assess
    expect(verdict).toEqual({ orphan: false, why: expect.stringMatching(/running/) });
  });
});
