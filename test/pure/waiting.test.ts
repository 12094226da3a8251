/**
 * How a running workload is waited for (decisions/phase-clock.ts workloadWait), when a spot notice
 * ends an attempt at once (decisions/attempt.ts afterPoll, decisions/relaunch.ts mayRelaunchAtOnce),
 * and what HandleFailure's decision makes of such an attempt (decideAfterFailure).
 */
import { describe, expect, it } from 'vitest';
import { RUNNER_NOTICE_LINE, RUNNER_SAVED_LINE } from '../../contract/runner';
import { afterPoll, NOTICE_CONFIRM_SECONDS, NOTICE_SAVE_WINDOW_SECONDS, type PollLook } from '../../decisions/attempt';
import { EVENT_WAIT_MAX_SECONDS, workloadWait } from '../../decisions/phase-clock';
import { decideAfterFailure, MAX_RELAUNCHES_AT_ONCE, mayRelaunchAtOnce } from '../../decisions/relaunch';
import type { JobIn } from '../../contract/job';
import { at, instanceRef, iso, job, phaseSpec, runningJob } from '../lambdas/fixtures';

const DEADLINE = at(5100);
const relay = { pollIntervalSeconds: 60, silenceTimeoutSeconds: 1800, budgetSeconds: 5400, wakeOnEvents: true };

describe('workloadWait', () => {
  it('without the relay: the poll interval, by the timer', () => {
    expect(workloadWait({ ...relay, wakeOnEvents: false }, at(1000), { nowMs: at(1000), deadlineMs: DEADLINE })).toEqual({ nextWaitSeconds: 60 });
  });

  it('with it: an event wait until the silence timeout could trip, at most EVENT_WAIT_MAX_SECONDS', () => {
    // A workload that printed just now: the silence watchdog cannot trip for 1800 s.
    expect(workloadWait(relay, at(1000), { nowMs: at(1000), deadlineMs: DEADLINE })).toEqual({ nextWaitSeconds: 1800, wake: 'event' });
    // Silent for 1000 s: it could trip in 800 s, the poll is then.
    expect(workloadWait(relay, at(1000), { nowMs: at(2000), deadlineMs: DEADLINE })).toEqual({ nextWaitSeconds: 800, wake: 'event' });
    // A long silence timeout: capped.
    expect(workloadWait({ ...relay, silenceTimeoutSeconds: 86400 }, at(1000), { nowMs: at(1000), deadlineMs: at(90000) })).toEqual({ nextWaitSeconds: EVENT_WAIT_MAX_SECONDS, wake: 'event' });
  });

  it('the deadline clips it; a wait shorter than two poll intervals goes by the timer (a callback costs more history)', () => {
    expect(workloadWait(relay, at(4900), { nowMs: at(4900), deadlineMs: DEADLINE })).toEqual({ nextWaitSeconds: 200, wake: 'event' });
    expect(workloadWait(relay, at(5000), { nowMs: at(5000), deadlineMs: DEADLINE })).toEqual({ nextWaitSeconds: 100 });
    expect(workloadWait(relay, at(1000), { nowMs: at(2750), deadlineMs: DEADLINE })).toEqual({ nextWaitSeconds: 60 });
  });

  it('brief (a notice window): the poll interval, by the timer', () => {
    expect(workloadWait(relay, at(1000), { nowMs: at(1000), deadlineMs: DEADLINE }, true)).toEqual({ nextWaitSeconds: 60 });
  });
});

/** A poll that sees spot's notice on a running instance whose command still runs, with this last line. */
const noticed = (lastLine: string): PollLook => ({
  signals: { state: 'failed', kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'spot request status marked-for-termination' },
  commandStatus: 'InProgress',
  tail: { line: lastLine, printedAtMs: at(1195) },
  invocationLastLine: '',
  instanceState: 'running',
});

describe('afterPoll on spot\'s notice', () => {
  const running = runningJob({}, at(1100)) as JobIn<'running'>;
  const t = { nowMs: at(1200), deadlineMs: DEADLINE };

  it('the runner says the checkpoint is saved, the phase surely relaunches: the attempt ends now, the instance left to spot', () => {
    const { job: next, cancel } = afterPoll(relay, running, noticed(`${RUNNER_SAVED_LINE} (workload exit 143)`), t, { relaunchAtOnce: true });
    expect(next).toMatchObject({ status: 'failed', failedAt: iso(at(1200)), failure: { kind: 'interruption', leftToSpot: true } });
    expect(cancel).toBe(false);
  });

  it('the runner only stopping the workload (not saved yet): wait, and look again in NOTICE_CONFIRM_SECONDS', () => {
    const { job: next, cancel } = afterPoll(relay, running, noticed(RUNNER_NOTICE_LINE), t, { relaunchAtOnce: true });
    expect(next).toMatchObject({ status: 'running', nextWaitSeconds: NOTICE_CONFIRM_SECONDS, command: { notice: { seenAt: iso(at(1200)) } } });
    expect(next).not.toHaveProperty('wake');
    expect(cancel).toBe(false);
  });

  it('saved, but the phase would not relaunch: the notice window is waited out as before', () => {
    const { job: next } = afterPoll(relay, running, noticed(`${RUNNER_SAVED_LINE} (workload exit 143)`), t, { relaunchAtOnce: false });
    expect(next.status).toBe('running');
  });

  it('past the first minute after the notice: back to the poll interval until the window ends', () => {
    const seen = { ...running, command: { ...running.command, notice: { seenAt: iso(at(1130)), reasonCode: 'marked-for-termination' as const, detail: 'x' } } };
    const { job: next } = afterPoll(relay, seen, noticed(RUNNER_NOTICE_LINE), t, {});
    expect(next).toMatchObject({ status: 'running', nextWaitSeconds: 60 });
    const late = afterPoll(relay, seen, noticed(RUNNER_NOTICE_LINE), { ...t, nowMs: at(1130 + NOTICE_SAVE_WINDOW_SECONDS) }, {});
    expect(late.job).toMatchObject({ status: 'failed', failure: { kind: 'interruption' } });
  });
});

describe('mayRelaunchAtOnce', () => {
  const phase = phaseSpec();
  const running = runningJob({}, at(1100)) as JobIn<'running'>;

  it('while the budget holds another whole attempt, on spot, within the cap', () => {
    expect(mayRelaunchAtOnce({ phase, job: running, nowMs: at(1200), deadlineMs: DEADLINE })).toBe(true);
    expect(mayRelaunchAtOnce({ phase, job: running, nowMs: at(4000), deadlineMs: DEADLINE })).toBe(false);
    expect(mayRelaunchAtOnce({ phase, job: { ...running, instance: { ...running.instance, market: 'on-demand' } }, nowMs: at(1200), deadlineMs: DEADLINE })).toBe(false);
    const record = { attempt: 1, instanceId: 'i-1', pool: 'c5.large/us-east-1a', outcome: 'interrupted' as const, startedAt: iso(at(0)), endedAt: iso(at(1)), leftToSpot: true as const };
    const capped = { ...running, history: Array.from({ length: MAX_RELAUNCHES_AT_ONCE }, () => record) };
    expect(mayRelaunchAtOnce({ phase, job: capped, nowMs: at(1200), deadlineMs: DEADLINE })).toBe(false);
  });
});

describe('decideAfterFailure for an attempt left to spot', () => {
  it('relaunches with no backoff, the pool left out, the noticed instance named as predecessor until its save window ends', () => {
    // Prepare
    const failed = job({
      status: 'failed',
      instance: instanceRef({ poolIndex: 4 }),
      attemptStartedAt: iso(at(60)),
      failedAt: iso(at(1200)),
      failure: { kind: 'interruption', reasonCode: 'marked-for-termination', detail: 'x', leftToSpot: true },
    } as never) as JobIn<'failed'>;

    // Act
    const answer = decideAfterFailure({ phase: phaseSpec(), job: failed, nowMs: at(1201), deadlineMs: DEADLINE });

    // Assess
    expect(answer.relaunch).toBe(true);
    expect(answer.next).toMatchObject({
      status: 'launching',
      nextWaitSeconds: 0,
      predecessor: { instanceId: failed.instance!.id, savesUntil: iso(at(1200 + NOTICE_SAVE_WINDOW_SECONDS)) },
      verdict: { action: 'relaunch', leavePool: 4 },
    });
    expect(answer.record).toMatchObject({ outcome: 'interrupted', leftToSpot: true });
  });
});
