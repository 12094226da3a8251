/**
 * Step Functions history arithmetic for one SpotPhase execution: the most history events it can
 * record, and the waits that keep every valid phase below the quota. Pure. The config schema
 * enforces it at synth and toPhaseSpec hands the waits to the phase (contract/config.ts), the
 * way budget.ts does for time.
 *
 * AWS facts:
 * - A Standard workflow execution history holds at most 25,000 events; an execution that reaches
 *   the quota fails ("Maximum execution history size",
 *   https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html; what happens at
 *   event 25,000: https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html).
 * - What each state records (the HistoryEvent types,
 *   https://docs.aws.amazon.com/step-functions/latest/apireference/API_HistoryEvent.html):
 *   a Task TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded (or TaskFailed),
 *   TaskStateExited, and each retry of it TaskScheduled, TaskStarted, TaskFailed once more;
 *   a Wait WaitStateEntered, WaitStateExited; a Choice ChoiceStateEntered, ChoiceStateExited;
 *   a Pass PassStateEntered, PassStateExited; a Succeed SucceedStateEntered, SucceedStateExited;
 *   a Fail FailStateEntered; the execution ExecutionStarted and its end (ExecutionSucceeded,
 *   ExecutionFailed, ExecutionTimedOut or ExecutionAborted).
 *
 * The worst case: every loop runs at its shortest wait for the whole budget, in whatever mix
 * records the most events per second, plus what runs once, plus a retry allowance (see
 * RETRIES_PER_TASK). Lambda time is counted as zero; only the Wait states are trusted to take time.
 */

/** Step Functions' quota of events in one Standard execution's history. */
export const HISTORY_EVENT_LIMIT = 25_000;

/**
 * What the waits are chosen to stay within: the quota less 1,000 events of headroom for what the
 * model does not count (retries beyond the allowance, about 330 of them).
 */
export const HISTORY_EVENT_TARGET = 24_000;

/**
 * The retry allowance: one retry in every ten task invocations (tasks retry transient errors up to
 * six times; throttling is rare, and a retry of a state that then succeeds adds 3 events).
 */
export const RETRIES_PER_TASK = 0.1;

/** Seconds between checks of the SSM agent while an instance boots, unless the budget needs more. */
export const DEFAULT_AGENT_CHECK_SECONDS = 20;

export type StateType = 'Task' | 'Wait' | 'Choice' | 'Pass' | 'Succeed' | 'Fail';

/** History events one pass through a state records (see the AWS facts above). */
export const EVENTS_PER_STATE: Readonly<Record<StateType, number>> = { Task: 5, Wait: 2, Choice: 2, Pass: 2, Succeed: 2, Fail: 1 };
/** Events each retry of a Task adds: TaskScheduled, TaskStarted, TaskFailed. */
export const EVENTS_PER_TASK_RETRY = 3;
/** ExecutionStarted and the event that ends the execution. */
export const EXECUTION_EVENTS = 2;

/**
 * The states of the SpotPhase graph (state-machines/spot-phase.ts) and their types.
 * test/stack/history-model.test.ts checks them, and the paths below, against the synthesized definition.
 */
export const SPOT_PHASE_STATES = {
  Begin: 'Pass',
  LaunchInstance: 'Task',
  'Launched?': 'Choice',
  CountLaunchFallback: 'Task',
  WaitForAgent: 'Wait',
  CheckAgent: 'Task',
  'AgentOnline?': 'Choice',
  SendWorkload: 'Task',
  'Sent?': 'Choice',
  AwaitWorkloadEvent: 'Task',
  WaitToPoll: 'Wait',
  WaitForWorkload: 'Wait',
  PollWorkload: 'Task',
  'WorkloadDone?': 'Choice',
  HandleFailure: 'Task',
  'Relaunch?': 'Choice',
  RelaunchBackoff: 'Wait',
  CountRelaunch: 'Task',
  CountExhausted: 'Task',
  FinishPhase: 'Task',
  PhaseSucceeded: 'Succeed',
  PhaseFailed: 'Fail',
  CleanupPhase: 'Task',
  PhaseErrored: 'Fail',
} as const satisfies Record<string, StateType>;
export type SpotPhaseState = keyof typeof SPOT_PHASE_STATES;

/** The runs of states the worst case is made of, each in graph order (every step an edge of the graph). */
export const SPOT_PHASE_PATHS = {
  /** Once: the start, to the first launch's Choice, and a launch's fallback to on-demand (the phase stays on-demand after it). */
  start: ['Begin', 'LaunchInstance', 'Launched?', 'CountLaunchFallback'],
  /** A loop, every agentCheckSeconds while an instance boots. */
  agentCheck: ['WaitForAgent', 'CheckAgent', 'AgentOnline?'],
  /** Once per attempt whose agent came online. */
  send: ['SendWorkload', 'Sent?'],
  /** A loop, every pollIntervalSeconds while the workload runs (without the wake relay, or when a token cannot be stored). */
  poll: ['WaitForWorkload', 'PollWorkload', 'WorkloadDone?'],
  /**
   * A loop while the workload runs with the wake relay: the callback wait times out no sooner than
   * two poll intervals (decisions/phase-clock.ts, workloadWait), so it records fewer events per
   * second than `poll`; events may end it sooner, at most WAKES_PER_ATTEMPT times per attempt.
   */
  pollEvent: ['AwaitWorkloadEvent', 'PollWorkload', 'WorkloadDone?'],
  /** A loop every pollIntervalSeconds while the task token cannot be stored (S3 refusing): the callback fails at once, the timer waits. */
  pollFallback: ['AwaitWorkloadEvent', 'WaitToPoll', 'PollWorkload', 'WorkloadDone?'],
  /** Once per relaunch, relaunchBackoffSeconds: from the failed attempt to the next launch's Choice (which may fail it again).*/
  relaunch: ['HandleFailure', 'Relaunch?', 'RelaunchBackoff', 'CountRelaunch', 'LaunchInstance', 'Launched?'],
  /** Once: the ways out, of which the worst case takes the longest. */
  ends: [
    ['HandleFailure', 'Relaunch?', 'CountExhausted', 'PhaseFailed'],
    ['FinishPhase', 'PhaseSucceeded'],
    ['CleanupPhase', 'PhaseErrored'],
  ],
} as const satisfies Record<string, readonly SpotPhaseState[] | readonly (readonly SpotPhaseState[])[]>;

/** Events a run of states records, each Task with its share of the retry allowance. */
export function pathEvents(states: readonly SpotPhaseState[]): number {
  return states.reduce((sum, state) => {
    const type: StateType = SPOT_PHASE_STATES[state];
    return sum + EVENTS_PER_STATE[type] + (type === 'Task' ? EVENTS_PER_TASK_RETRY * RETRIES_PER_TASK : 0);
  }, 0);
}

/**
 * Events that may end one attempt's wait early (contract/events.ts): spot's interruption warning,
 * then one of those that end the attempt (the command's end, the instance shutting down or
 * terminated): the poll it brings ends the attempt, and events about the instance of an attempt that
 * has ended find no wait of it. (EventBridge may deliver an event twice, rarely: the headroom below
 * HISTORY_EVENT_LIMIT covers such.)
 */
export const WAKES_PER_ATTEMPT = 2;

/**
 * Quick polls after spot's notice, waiting for the runner's word that the checkpoint is saved
 * (decisions/attempt.ts: every NOTICE_CONFIRM_SECONDS for NOTICE_CONFIRM_WINDOW_SECONDS), at most
 * once per attempt: each attempt that sends its workload may add these.
 */
export const NOTICE_CONFIRM_POLLS = 4;

/**
 * Relaunches at once on spot's notice per execution (decisions/relaunch.ts, MAX_RELAUNCHES_AT_ONCE):
 * each skips the backoff the loops' rates count on, so each is counted whole, once.
 */
export const RELAUNCHES_AT_ONCE = 5;

const AGENT = pathEvents(SPOT_PHASE_PATHS.agentCheck);
/** A poll loop pass per poll interval: the busiest of the timer's, a callback's (which takes two intervals or more) and the fallback's when the token cannot be stored. */
const POLL = Math.max(pathEvents(SPOT_PHASE_PATHS.poll), pathEvents(SPOT_PHASE_PATHS.pollEvent) / 2, pathEvents(SPOT_PHASE_PATHS.pollFallback));
/** A callback poll pass, as each early wake costs one. */
const WAKE = pathEvents(SPOT_PHASE_PATHS.pollEvent);
/** A send, with the early wakes and the quick polls after a notice of the workload it starts. */
const SEND = pathEvents(SPOT_PHASE_PATHS.send) + WAKES_PER_ATTEMPT * WAKE + NOTICE_CONFIRM_POLLS * pathEvents(SPOT_PHASE_PATHS.poll);
const RELAUNCH = pathEvents(SPOT_PHASE_PATHS.relaunch);

/**
 * Events recorded once, whatever the budget: the execution's own two, the start, the first
 * attempt's send, the longest way out, and two loop passes cut short by the deadline (a wait is
 * clipped so a check lands on the deadline: nextWait in decisions/phase-clock.ts).
 */
export const ONCE_EVENTS =
  EXECUTION_EVENTS +
  pathEvents(SPOT_PHASE_PATHS.start) +
  SEND +
  Math.max(...SPOT_PHASE_PATHS.ends.map(pathEvents)) +
  2 * Math.max(AGENT, POLL) +
  // the relaunches at once on spot's notice, each with an attempt that boots and sends
  RELAUNCHES_AT_ONCE * (RELAUNCH + AGENT + SEND + WAKE);

/** The waits of a phase that bound how fast its execution records events. */
export interface PhaseWaits {
  /** The phase never runs longer: no loop waits past it. */
  readonly budgetSeconds: number;
  readonly pollIntervalSeconds: number;
  readonly agentCheckSeconds: number;
  readonly relaunchBackoffSeconds: number;
}

/**
 * The most events per second the loops can record. An attempt after a relaunch costs the relaunch
 * path, then possibly agent checks, a send and polls; the mixes that record the most per second of
 * waiting are these (longer loops only tend to the loop's own rate).
 */
export function worstEventsPerSecond(w: Omit<PhaseWaits, 'budgetSeconds'>): number {
  const { agentCheckSeconds: a, pollIntervalSeconds: p, relaunchBackoffSeconds: b } = w;
  return Math.max(
    AGENT / a, // an instance that never boots, checked until its boot timeout
    POLL / p, // a workload polled
    b > 0 ? RELAUNCH / b : Infinity, // every launch refused (capacity exhausted), relaunched after each backoff
    (RELAUNCH + AGENT + SEND) / (b + a), // launched, one agent check, then the send or the instance fails
    (RELAUNCH + AGENT + SEND + POLL) / (b + a + p), // launched, sent, interrupted at the first poll
  );
}

/** The most history events one SpotPhase execution of this phase can record (Infinity: unbounded). */
export function worstCaseHistoryEvents(w: PhaseWaits): number {
  return Math.ceil(ONCE_EVENTS + w.budgetSeconds * worstEventsPerSecond(w));
}

/** The waits a phase runs with: what it configured, raised where its budget needs longer waits. */
export type HistorySafeWaits = Omit<PhaseWaits, 'budgetSeconds'>;

/**
 * The shortest waits, none shorter than configured (agent checks: DEFAULT_AGENT_CHECK_SECONDS),
 * that keep the worst case within HISTORY_EVENT_TARGET. Budgets up to about 9 hours keep the
 * defaults (polls every 60 s, agent checks every 20 s, 60 s relaunch backoff); a 48-hour budget
 * polls every 109 s, checks every 69 s and backs off 680 s between relaunches. A relaunch backoff of 0 is
 * always raised: launches refused without a pause would loop as fast as Lambda answers.
 */
export function historySafeWaits(phase: Pick<PhaseWaits, 'budgetSeconds' | 'pollIntervalSeconds' | 'relaunchBackoffSeconds'>): HistorySafeWaits {
  const perSecond = (HISTORY_EVENT_TARGET - ONCE_EVENTS) / phase.budgetSeconds;
  const secondsFor = (events: number) => Math.ceil(events / perSecond);
  const pollIntervalSeconds = Math.max(phase.pollIntervalSeconds, secondsFor(POLL));
  const agentCheckSeconds = Math.max(DEFAULT_AGENT_CHECK_SECONDS, secondsFor(AGENT));
  const relaunchBackoffSeconds = Math.max(
    phase.relaunchBackoffSeconds,
    secondsFor(RELAUNCH),
    secondsFor(RELAUNCH + AGENT + SEND) - agentCheckSeconds,
    secondsFor(RELAUNCH + AGENT + SEND + POLL) - agentCheckSeconds - pollIntervalSeconds,
  );
  return { pollIntervalSeconds, agentCheckSeconds, relaunchBackoffSeconds };
}

/** Why a phase's execution could outgrow its history, or undefined when it cannot. */
export function historyProblem(w: PhaseWaits): string | undefined {
  const events = worstCaseHistoryEvents(w);
  if (events < HISTORY_EVENT_LIMIT) return undefined;
  return (
    `its SpotPhase execution could record ${Number.isFinite(events) ? events : 'unbounded'} history events ` +
    `(budgetSeconds ${w.budgetSeconds}, polls every ${w.pollIntervalSeconds} s, agent checks every ${w.agentCheckSeconds} s, ` +
    `relaunch backoff ${w.relaunchBackoffSeconds} s); Step Functions fails an execution at ${HISTORY_EVENT_LIMIT}`
  );
}
