/**
 * Attempt transitions: given the job a task was handed and what the task read from AWS, the job
 * it hands on. Pure: the handlers read AWS, call one of these, and apply what it says (send,
 * cancel, terminate). Each function takes a job in the status its task acts on, and returns a
 * job in one of the statuses the state machine's next Choice expects.
 */
import { JOB_STATUS, type CommandRef, type Failure, type InstanceRef, type JobIn } from '../contract/job';
import type { PhaseSpec } from '../contract/config';
import { RUNNER_NOTICE_LINE, RUNNER_SAVED_LINE } from '../contract/runner';
import type { Classification } from './classify';
import { nextWait, secondsUntil, workloadWait, type WorkloadWait } from './phase-clock';
import { watchdog } from './watchdogs';

/** Now, and the moment the phase's work must be over. */
export interface PhaseTimes {
  readonly nowMs: number;
  readonly deadlineMs: number;
}

type AttemptJob = JobIn<'launching' | 'booting' | 'ready' | 'running'>;

/** The attempt failed: the job keeps what it knew of the attempt, for HandleFailure to clean up and judge. */
export function attemptFailed(job: AttemptJob, failure: Failure, attemptStartedAt: string, seenAtMs?: number): JobIn<'failed'> {
  return {
    v: job.v,
    status: JOB_STATUS.failed,
    attempt: job.attempt,
    poolCursor: job.poolCursor,
    history: job.history,
    nextWaitSeconds: 0,
    pollErrors: 0,
    attemptStartedAt,
    instance: 'instance' in job ? job.instance : undefined,
    command: 'command' in job ? job.command : undefined,
    failure,
    ...(job.market ? { market: job.market } : {}),
    ...(job.predecessor ? { predecessor: job.predecessor } : {}),
    ...(seenAtMs === undefined ? {} : { failedAt: new Date(seenAtMs).toISOString() }),
  };
}

/** AWS did not answer a task's calls (throttling, service faults) before the deadline: the attempt is out of time. */
export function outOfTime(job: AttemptJob, what: string, t: PhaseTimes): JobIn<'failed'> {
  return attemptFailed(
    job,
    { kind: 'budget', reasonCode: 'deadline', detail: `AWS did not answer ${what} before the phase deadline (throttled or failing until then)` },
    'attemptStartedAt' in job ? job.attemptStartedAt : new Date(t.nowMs).toISOString(),
  );
}

const failureFrom = (c: Extract<Classification, { state: 'failed' }>, extra: Partial<Failure> = {}): Failure => ({
  kind: c.kind,
  reasonCode: c.reasonCode,
  detail: c.detail,
  ...extra,
});

// ----- LaunchInstance ---------------------------------------------------------------------

/** Too late to launch: the deadline has passed. */
export function launchTooLate(job: JobIn<'launching'>, t: PhaseTimes): JobIn<'failed'> | undefined {
  if (t.nowMs < t.deadlineMs) return undefined;
  return attemptFailed(job, { kind: 'budget', reasonCode: 'deadline', detail: 'phase budget spent before the attempt could launch' }, new Date(t.nowMs).toISOString());
}

/** The attempt has its instance: wait for the SSM agent next. */
export function launched(phase: Pick<PhaseSpec, 'agentCheckSeconds'>, job: JobIn<'launching'>, instance: InstanceRef, t: PhaseTimes, fallback?: JobIn<'booting'>['fallback']): JobIn<'booting'> {
  return {
    v: job.v,
    status: JOB_STATUS.booting,
    attempt: job.attempt,
    poolCursor: job.poolCursor,
    history: job.history,
    nextWaitSeconds: nextWait(phase.agentCheckSeconds, t.deadlineMs, t.nowMs),
    pollErrors: 0,
    attemptStartedAt: new Date(t.nowMs).toISOString(),
    instance,
    ...(fallback ? { fallback } : {}),
    ...(job.predecessor ? { predecessor: job.predecessor } : {}),
  };
}

/** Every pool refused: launch-time capacity exhaustion, an interruption the phase may relaunch from. */
export function noCapacity(job: JobIn<'launching'>, refusals: readonly string[], t: PhaseTimes): JobIn<'failed'> {
  return attemptFailed(
    job,
    { kind: 'interruption', reasonCode: 'capacity-exhausted', detail: `every capacity pool refused the launch`, lastOutput: refusals.join('; ') },
    new Date(t.nowMs).toISOString(),
  );
}

/** An account quota refused the launch: the phase fails now, naming the quota; no relaunch can help. */
export function quotaReached(job: JobIn<'launching'>, pool: string, code: string, quota: string, t: PhaseTimes): JobIn<'failed'> {
  return attemptFailed(
    job,
    { kind: 'quota', reasonCode: 'quota', detail: `${code} launching in ${pool}: ${quota} is reached; raise it in Service Quotas` },
    new Date(t.nowMs).toISOString(),
  );
}

// ----- AwaitAgent -------------------------------------------------------------------------

/**
 * What AwaitAgent saw: the agent online (and, when the attempt before was left to spot on its notice,
 * whether that instance is gone), the instance's classification while it is not, or nothing (status unreadable).
 */
export type AgentLook =
  | { readonly online: true; readonly predecessorGone?: boolean }
  | { readonly online: false; readonly instance: Classification }
  | { readonly unreadable: true };

/**
 * The agent is online; may the workload start? Not while the instance spot noticed before it may
 * still be saving the checkpoint this attempt resumes from: until it is gone, or its save window
 * (NOTICE_SAVE_WINDOW_SECONDS from when the notice was seen) has passed. Undefined: start now.
 */
export function awaitingPredecessor(job: JobIn<'booting'>, look: { readonly predecessorGone?: boolean }, t: PhaseTimes): boolean {
  return job.predecessor !== undefined && !look.predecessorGone && t.nowMs < Date.parse(job.predecessor.savesUntil) && t.nowMs < t.deadlineMs;
}

export function afterAgentCheck(phase: Pick<PhaseSpec, 'bootTimeoutSeconds' | 'agentCheckSeconds'>, job: JobIn<'booting'>, look: AgentLook, t: PhaseTimes): JobIn<'booting' | 'ready' | 'failed'> {
  const fail = (failure: Failure) => attemptFailed(job, failure, job.attemptStartedAt);
  if ('unreadable' in look) {
    if (t.nowMs >= t.deadlineMs) return fail({ kind: 'budget', reasonCode: 'deadline', detail: 'phase budget spent while the instance booted (status unreadable)' });
    return { ...job, pollErrors: job.pollErrors + 1, nextWaitSeconds: nextWait(phase.agentCheckSeconds, t.deadlineMs, t.nowMs) };
  }
  if (look.online && awaitingPredecessor(job, look, t)) return { ...job, pollErrors: 0, nextWaitSeconds: nextWait(phase.agentCheckSeconds, t.deadlineMs, t.nowMs) };
  if (look.online) {
    const { predecessor: _saved, ...rest } = job;
    return { ...rest, status: JOB_STATUS.ready, nextWaitSeconds: 0, pollErrors: 0 };
  }
  if (look.instance.state === 'failed') return fail(failureFrom(look.instance));
  if (t.nowMs >= t.deadlineMs) return fail({ kind: 'budget', reasonCode: 'deadline', detail: 'phase budget spent while the instance booted' });
  const bootedFor = (t.nowMs - Date.parse(job.instance.launchedAt)) / 1000;
  if (bootedFor >= phase.bootTimeoutSeconds) {
    return fail({
      kind: 'boot-timeout',
      reasonCode: 'boot-timeout',
      detail: `SSM agent not online ${Math.round(bootedFor)} s after launch (bootTimeoutSeconds ${phase.bootTimeoutSeconds})`,
    });
  }
  return { ...job, pollErrors: 0, nextWaitSeconds: nextWait(phase.agentCheckSeconds, t.deadlineMs, t.nowMs) };
}

// ----- SendWorkload -----------------------------------------------------------------------

/** Below this, a command has no real chance to do anything: the phase is out of budget. */
export const MIN_EXECUTION_SECONDS = 60;

/** The command's executionTimeout (what remains of the budget), or the failure when too little remains. */
export function commandTimeout(job: JobIn<'ready'>, t: PhaseTimes): { readonly seconds: number } | { readonly failed: JobIn<'failed'> } {
  const seconds = secondsUntil(t.deadlineMs, t.nowMs);
  if (seconds >= MIN_EXECUTION_SECONDS) return { seconds };
  return {
    failed: attemptFailed(job, { kind: 'budget', reasonCode: 'deadline', detail: `only ${Math.max(0, seconds)} s of budget left to run the command` }, job.attemptStartedAt),
  };
}

/** A running job with its next wait: its length, and how it ends (the wake field set or taken away). */
function waiting<J extends JobIn<'running'>>(job: J, w: WorkloadWait): J {
  const { wake: _previous, ...rest } = job;
  return { ...rest, nextWaitSeconds: w.nextWaitSeconds, ...(w.wake ? { wake: w.wake } : {}) } as J;
}

export function commandSent(phase: Pick<PhaseSpec, 'pollIntervalSeconds' | 'silenceTimeoutSeconds'> & { readonly wakeOnEvents?: boolean }, job: JobIn<'ready'>, commandId: string, executionTimeoutSeconds: number, t: PhaseTimes): JobIn<'running'> {
  const sentAt = new Date(t.nowMs).toISOString();
  const running: JobIn<'running'> = {
    ...job,
    status: JOB_STATUS.running,
    command: { id: commandId, sentAt, executionTimeoutSeconds, lastOutput: '', lastOutputAt: sentAt },
    pollErrors: 0,
    nextWaitSeconds: 0,
  };
  return waiting(running, workloadWait(phase, t.nowMs, t));
}

/** SSM would not take the command because the instance is unreachable; what EC2 says about it decides. */
export function instanceUnreachable(job: JobIn<'ready'>, instance: Classification): JobIn<'failed'> | undefined {
  return instance.state === 'failed' ? attemptFailed(job, failureFrom(instance), job.attemptStartedAt) : undefined;
}

// ----- PollWorkload -----------------------------------------------------------------------

/** What PollWorkload read. */
export type PollLook =
  | { readonly unreadable: true }
  | {
      readonly signals: Classification;
      /** Invocation status as SSM reports it (to know whether the command is still cancellable). */
      readonly commandStatus?: string;
      readonly responseCode?: number;
      /** The last line the workload printed and when, from CloudWatch Logs (undefined: nothing yet). */
      readonly tail?: { readonly line: string; readonly printedAtMs: number };
      /** The last line of the invocation's own (truncated) output. */
      readonly invocationLastLine: string;
      /** The instance's state, when the poll looked (undefined at the deadline's light poll). */
      readonly instanceState?: string;
      /** When the command ended, as SSM says (its ExecutionEndDateTime); undefined while it runs. */
      readonly commandEndedAtMs?: number;
    };

export interface PollDecision {
  readonly job: JobIn<'running' | 'succeeded' | 'failed'>;
  /** The command must be cancelled (the pipeline stops it: a watchdog, or an interruption it still runs through). */
  readonly cancel: boolean;
}

const STILL_RUNNING = new Set(['Pending', 'InProgress', 'Delayed']);

/**
 * How long after the pipeline first sees a spot interruption on an instance that still runs it
 * leaves the instance alone: spot's notice comes two minutes before it takes the instance (EC2
 * user guide, "Spot Instance interruption notices"), and the runner uses them to stop the workload
 * and save its checkpoint (instance/pipeline-runner.sh). Terminating at once, or cancelling the
 * command, would cut that save off. 30 s more for the termination to show in DescribeInstances.
 */
export const NOTICE_SAVE_WINDOW_SECONDS = 150;

/**
 * While the pipeline waits for the runner's word that the checkpoint is saved (RUNNER_SAVED_LINE),
 * it polls every NOTICE_CONFIRM_SECONDS for the first NOTICE_CONFIRM_WINDOW_SECONDS after it saw the
 * notice (a relaunch at once comes within a minute of it), then at its poll interval.
 */
export const NOTICE_CONFIRM_SECONDS = 15;
export const NOTICE_CONFIRM_WINDOW_SECONDS = 60;

/** Spot's notice comes this long before EC2 takes the instance (EC2 user guide, "Spot Instance interruption notices"). */
export const SPOT_NOTICE_SECONDS = 120;

export interface PollOptions {
  /**
   * A spot interruption seen on an instance that still runs its command, once its runner says the
   * checkpoint is saved (RUNNER_SAVED_LINE), ends the attempt at once and leaves the instance to spot:
   * the relaunch starts inside the notice's two minutes. The handler says so only when the phase surely
   * relaunches (decisions/relaunch.ts, mayRelaunchAtOnce); otherwise the notice window is waited out.
   */
  readonly relaunchAtOnce?: boolean;
}

export function afterPoll(
  phase: Pick<PhaseSpec, 'pollIntervalSeconds' | 'silenceTimeoutSeconds' | 'budgetSeconds'> & { readonly wakeOnEvents?: boolean },
  job: JobIn<'running'>,
  look: PollLook,
  t: PhaseTimes,
  options: PollOptions = {},
): PollDecision {
  const { command } = job;
  if ('unreadable' in look) {
    // A notice already seen names the attempt's end, whether or not this poll could read anything.
    if (t.nowMs >= t.deadlineMs && command.notice) {
      return { job: attemptFailed(job, { kind: 'interruption', reasonCode: command.notice.reasonCode, detail: command.notice.detail, lastOutput: command.lastOutput }, job.attemptStartedAt, t.nowMs), cancel: true };
    }
    if (t.nowMs >= t.deadlineMs) {
      return { job: attemptFailed(job, { kind: 'budget', reasonCode: 'deadline', detail: 'phase budget spent (status unreadable at the deadline)' }, job.attemptStartedAt), cancel: false };
    }
    return { job: waiting({ ...job, pollErrors: job.pollErrors + 1 }, workloadWait(phase, Date.parse(command.lastOutputAt), t, true)), cancel: false };
  }

  const output = look.tail?.line || look.invocationLastLine || command.lastOutput;
  const grew = look.tail !== undefined && look.tail.printedAtMs > Date.parse(command.lastOutputAt);
  const printedAt = look.tail ? Math.max(look.tail.printedAtMs, Date.parse(command.sentAt)) : Date.parse(command.lastOutputAt);
  const seen: CommandRef = { ...command, lastOutput: output, lastOutputAt: grew ? new Date(printedAt).toISOString() : command.lastOutputAt };
  const withSeen = { ...job, command: seen, pollErrors: 0 };
  // An instance gone (spot, or anyone) before a late poll saw it (events lost, a long wait) ended about
  // when its command did: the attempt is priced until then, not until this poll.
  const instanceGone = look.instanceState === 'terminated' || look.instanceState === 'shutting-down';
  const endedAtMs = (instanceGone || (look.signals.state === 'failed' && look.signals.kind === 'interruption')) && look.commandEndedAtMs !== undefined ? Math.min(t.nowMs, look.commandEndedAtMs) : t.nowMs;
  const fail = (failure: Failure) => attemptFailed(withSeen, failure, job.attemptStartedAt, endedAtMs);

  const verdict = look.signals;
  const tripped = watchdog({ ...t, lastOutputAtMs: Date.parse(seen.lastOutputAt), silenceTimeoutSeconds: phase.silenceTimeoutSeconds, budgetSeconds: phase.budgetSeconds });
  if (verdict.state === 'succeeded') {
    // Its instance already gone when a late poll sees the success: it is priced until its command ended, never more.
    const gone = instanceGone && look.commandEndedAtMs !== undefined ? { instanceGoneBy: new Date(Math.min(t.nowMs, look.commandEndedAtMs)).toISOString() } : {};
    return { job: { ...withSeen, status: JOB_STATUS.succeeded, ...gone }, cancel: false };
  }
  if (verdict.state === 'cancelled') {
    // The pipeline cancels a command only when a watchdog trips (or spot takes the instance,
    // which classify() reports first). A poll retried after its response was lost sees the
    // command it cancelled itself: the same watchdog trips again and names the real cause.
    if (tripped) return { job: fail({ ...tripped, lastOutput: output }), cancel: false };
    return {
      job: fail({ kind: 'workload-error', reasonCode: 'command-cancelled', detail: 'command cancelled, not by the pipeline (an operator or another tool?)', lastOutput: output }),
      cancel: false,
    };
  }
  const stillRuns = look.instanceState === 'running' && look.commandStatus !== undefined && STILL_RUNNING.has(look.commandStatus);
  if (verdict.state === 'failed' && verdict.kind === 'interruption' && stillRuns && output.startsWith(RUNNER_SAVED_LINE) && t.nowMs < t.deadlineMs && options.relaunchAtOnce) {
    // Spot's notice, and the runner says the checkpoint is saved and it only waits for spot: nothing
    // the old instance still does can change how the attempt ends (no exit the agent could report,
    // no save to wait for), so the relaunch starts now, inside the notice's two minutes.
    const detail = `${verdict.detail}; relaunched at once, the checkpoint saved, the instance left to spot`;
    return { job: fail({ kind: 'interruption', reasonCode: verdict.reasonCode, detail, lastOutput: output, leftToSpot: true }), cancel: false };
  }
  if (verdict.state === 'failed') {
    // Spot has given its notice and the instance still runs its command: let the runner save the
    // checkpoint, and act once spot has taken the instance (or the window has passed). The polls
    // keep their interval (the history model counts them so), and the deadline still ends it.
    const seenAtMs = command.notice ? Date.parse(command.notice.seenAt) : t.nowMs;
    if (
      verdict.kind === 'interruption' &&
      look.instanceState === 'running' &&
      look.commandStatus !== undefined &&
      STILL_RUNNING.has(look.commandStatus) &&
      t.nowMs < t.deadlineMs &&
      t.nowMs - seenAtMs < NOTICE_SAVE_WINDOW_SECONDS * 1000
    ) {
      const notice = command.notice ?? { seenAt: new Date(seenAtMs).toISOString(), reasonCode: verdict.reasonCode, detail: verdict.detail };
      // Early in the window, look again soon for the runner's word that the checkpoint is saved.
      const confirming = t.nowMs - seenAtMs < NOTICE_CONFIRM_WINDOW_SECONDS * 1000;
      const wait = confirming ? { nextWaitSeconds: nextWait(Math.min(NOTICE_CONFIRM_SECONDS, phase.pollIntervalSeconds), t.deadlineMs, t.nowMs) } : workloadWait(phase, Date.parse(seen.lastOutputAt), t, true);
      return { job: waiting({ ...withSeen, command: { ...seen, notice } }, wait), cancel: false };
    }
    // Ended by its timeout (the phase deadline) while the runner waited out a notice: spot's doing.
    if (command.notice && verdict.kind === 'budget') {
      return { job: fail({ kind: 'interruption', reasonCode: command.notice.reasonCode, detail: command.notice.detail, lastOutput: output }), cancel: false };
    }
    const exitCode = look.responseCode !== undefined && look.responseCode >= 0 ? look.responseCode : undefined;
    return {
      job: fail(failureFrom(verdict, { exitCode, lastOutput: output })),
      cancel: verdict.kind === 'interruption' && look.commandStatus !== undefined && STILL_RUNNING.has(look.commandStatus),
    };
  }
  // Waiting out a notice: the instance still runs (or this poll could not look). At the deadline, or
  // when the workload (stopped by the runner) has gone quiet, or past the window, it is the
  // interruption that ends the attempt, not a made-up budget or silence failure.
  if (command.notice && (tripped || t.nowMs - Date.parse(command.notice.seenAt) >= NOTICE_SAVE_WINDOW_SECONDS * 1000)) {
    return { job: fail({ kind: 'interruption', reasonCode: command.notice.reasonCode, detail: command.notice.detail, lastOutput: output }), cancel: true };
  }
  // Quiet because the runner stopped the workload on spot's notice (its last line says so), with
  // spot's own records not showing it yet: give spot its window to take the instance.
  if (tripped?.kind === 'hung' && (output.startsWith(RUNNER_NOTICE_LINE) || output.startsWith(RUNNER_SAVED_LINE)) && t.nowMs - Date.parse(seen.lastOutputAt) < NOTICE_SAVE_WINDOW_SECONDS * 1000) {
    return { job: waiting(withSeen, workloadWait(phase, Date.parse(seen.lastOutputAt), t, true)), cancel: false };
  }
  if (tripped) return { job: fail({ ...tripped, lastOutput: output }), cancel: true };
  return { job: waiting(withSeen, workloadWait(phase, Date.parse(seen.lastOutputAt), t, Boolean(command.notice))), cancel: false };
}
