import { describe, expect, it } from 'vitest';
import { afterAgentCheck, afterPoll, commandTimeout, type PollLook } from '../../decisions/attempt';
import { watchdog } from '../../decisions/watchdogs';
import type { JobIn } from '../../contract/job';
import { at, instanceRef, iso, job, runningJob } from '../lambdas/fixtures';

const phase = { pollIntervalSeconds: 60, silenceTimeoutSeconds: 1800, budgetSeconds: 5400, bootTimeoutSeconds: 600, agentCheckSeconds: 20 };
/** The DataPhase1 deadline: start + 5100 s. */
const times = (nowSeconds: number) => ({ nowMs: at(nowSeconds), deadlineMs: at(5100) });
const running = runningJob() as JobIn<'running'>;
const booting = job({ status: 'booting', attemptStartedAt: iso(at(0)), instance: instanceRef() }) as JobIn<'booting'>;
const healthy: PollLook = { signals: { state: 'running' }, commandStatus: 'InProgress', responseCode: -1, invocationLastLine: '' };

describe('watchdog', () => {
  it.each<[string, number, number, string | undefined]>([
    ['quiet for less than the silence timeout', 2000, 1000, undefined],
    ['silent for the silence timeout exactly', 2800, 1000, 'silence'],
    ['at the deadline (wins over silence)', 5100, 0, 'deadline'],
    ['past the deadline', 6000, 5900, 'deadline'],
  ])('%s -> %s', (_what, now, lastOutput, reasonCode) => {
    // Act
    const tripped = watchdog({ nowMs: at(now), deadlineMs: at(5100), lastOutputAtMs: at(lastOutput), silenceTimeoutSeconds: 1800, budgetSeconds: 5400 });

    // Assess
    expect(tripped?.reasonCode).toBe(reasonCode);
  });
});

describe('afterPoll', () => {
  it.each<[string, PollLook, number, { status: string; reasonCode?: string; cancel: boolean }]>([
    ['still running, output fresh', { ...healthy, tail: { line: 'step 3', printedAtMs: at(1000) } }, 1100, { status: 'running', cancel: false }],
    ['succeeded', { ...healthy, signals: { state: 'succeeded' }, commandStatus: 'Success', responseCode: 0 }, 1100, { status: 'succeeded', cancel: false }],
    [
      'spot took it while the command still runs: cancel it',
      { ...healthy, signals: { state: 'failed', kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'x' } },
      1100,
      { status: 'failed', reasonCode: 'marked-for-termination', cancel: true },
    ],
    [
      'a genuine exit: nothing to cancel',
      { ...healthy, signals: { state: 'failed', kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit code 2' }, commandStatus: 'Failed', responseCode: 2 },
      1100,
      { status: 'failed', reasonCode: 'exit-code', cancel: false },
    ],
    ['silent too long: hung, cancelled', healthy, 2200, { status: 'failed', reasonCode: 'silence', cancel: true }],
    ['at the deadline: cancelled', healthy, 5100, { status: 'failed', reasonCode: 'deadline', cancel: true }],
    ['unreadable before the deadline: keeps running', { unreadable: true }, 1100, { status: 'running', cancel: false }],
    ['unreadable at the deadline: budget', { unreadable: true }, 5100, { status: 'failed', reasonCode: 'deadline', cancel: false }],
    // A poll retried after its response was lost reads back the command it cancelled itself.
    ['cancelled by its own silence watchdog (the retried poll): still hung, nothing more to cancel', { ...healthy, signals: { state: 'cancelled' }, commandStatus: 'Cancelled', responseCode: 137 }, 2205, { status: 'failed', reasonCode: 'silence', cancel: false }],
    ['cancelled by its own deadline watchdog (the retried poll): still the budget', { ...healthy, signals: { state: 'cancelled' }, commandStatus: 'Cancelled', responseCode: 137 }, 5105, { status: 'failed', reasonCode: 'deadline', cancel: false }],
    ['cancelled with no watchdog tripped: someone else cancelled it', { ...healthy, signals: { state: 'cancelled' }, commandStatus: 'Cancelled', responseCode: 137 }, 1100, { status: 'failed', reasonCode: 'command-cancelled', cancel: false }],
  ])('%s', (_what, look, now, expected) => {
    // Act
    const decision = afterPoll(phase, running, look, times(now));

    // Assess
    expect({ status: decision.job.status, reasonCode: decision.job.status === 'failed' ? decision.job.failure.reasonCode : undefined, cancel: decision.cancel }).toEqual({
      reasonCode: undefined,
      ...expected,
    });
  });

  it('a new output line moves the silence anchor; an old one does not', () => {
    // Act
    const fresh = afterPoll(phase, running, { ...healthy, tail: { line: 'step 4', printedAtMs: at(900) } }, times(1000));
    const stale = afterPoll(phase, running, { ...healthy, tail: { line: 'starting', printedAtMs: at(200) } }, times(1000));

    // Assess
    expect(fresh.job.status === 'running' && fresh.job.command.lastOutputAt).toBe(iso(at(900)));
    expect(stale.job.status === 'running' && stale.job.command.lastOutputAt).toBe(running.command.lastOutputAt);
  });
});

describe('afterAgentCheck', () => {
  it.each<[string, Parameters<typeof afterAgentCheck>[2], number, string, string | undefined]>([
    ['agent online', { online: true }, 180, 'ready', undefined],
    ['still booting', { online: false, instance: { state: 'running' } }, 180, 'booting', undefined],
    ['booting past bootTimeoutSeconds', { online: false, instance: { state: 'running' } }, 700, 'failed', 'boot-timeout'],
    ['reclaimed while booting', { online: false, instance: { state: 'failed', kind: 'interruption', reasonCode: 'Server.SpotInstanceTermination', detail: 'x' } }, 180, 'failed', 'Server.SpotInstanceTermination'],
    ['unreadable: look again', { unreadable: true }, 180, 'booting', undefined],
    ['deadline while booting', { online: false, instance: { state: 'running' } }, 5100, 'failed', 'deadline'],
  ])('%s -> %s', (_what, look, now, status, reasonCode) => {
    // Act
    const next = afterAgentCheck(phase, booting, look, times(now));

    // Assess
    expect(next.status).toBe(status);
    expect(next.status === 'failed' ? next.failure.reasonCode : undefined).toBe(reasonCode);
  });
});

describe('commandTimeout', () => {
  it('is what remains of the budget, or a budget failure below a minute', () => {
    // Prepare
    const ready = job({ status: 'ready', attemptStartedAt: iso(at(0)), instance: instanceRef() }) as JobIn<'ready'>;

    // Act
    const plenty = commandTimeout(ready, times(300));
    const tooLittle = commandTimeout(ready, times(5041));

    // Assess
    expect(plenty).toEqual({ seconds: 4800 });
    expect('failed' in tooLittle && tooLittle.failed.failure).toMatchObject({ kind: 'budget', reasonCode: 'deadline' });
  });
});
