/**
 * Callback tasks of the simulated Step Functions service: Task states whose Resource ends in
 * `.waitForTaskToken`, their task tokens, and what SendTaskSuccess, SendTaskFailure and
 * SendTaskHeartbeat do with them. The AWS behaviours it follows:
 *
 * - "Wait for a Callback with the Task Token" (Step Functions developer guide, "Discover service
 *   integration patterns in Step Functions"): the state passes a task token (`$$.Task.Token`, from
 *   the context object) to the service it calls, then pauses until SendTaskSuccess or
 *   SendTaskFailure comes back with that token. The task's result is SendTaskSuccess' `output`;
 *   what the call itself answered is not the result. Every time the state runs (a Retry runs it
 *   again) it gets a new token ("Context object": Task.Token, "available only when the state uses
 *   the callback pattern").
 * - TimeoutSeconds: a callback task that sets none may wait 99999999 seconds (developer guide, "Task
 *   workflow state": TimeoutSeconds, "If not provided, the default value is 99999999"); past its
 *   timeout it fails with States.Timeout. HeartbeatSeconds must be smaller than TimeoutSeconds
 *   (Amazon States Language, "Task State": "the HeartbeatSeconds interval MUST be smaller than the
 *   TimeoutSeconds value"); without a SendTaskHeartbeat (or a result) for that long the task fails
 *   with States.HeartbeatTimeout ("Handling errors in Step Functions workflows": States.
 *   HeartbeatTimeout, "A Task state failed to send a heartbeat for a period longer than the
 *   HeartbeatSeconds value"). SendTaskHeartbeat resets the heartbeat clock and never extends
 *   TimeoutSeconds (API reference, "SendTaskHeartbeat").
 * - SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat (Step Functions API reference): a token
 *   Step Functions never issued is InvalidToken ("The provided token is not valid"); the token of a
 *   task that already closed (it succeeded, failed or timed out, or its execution stopped) is
 *   TaskTimedOut ("The task token has either expired or the task associated with the token has
 *   already been closed"); SendTaskSuccess' output must be JSON (InvalidOutput, "The provided JSON
 *   output data is not valid"). SendTaskFailure's error and cause are both optional. Each answers {}.
 *   TaskDoesNotExist ("The activity does not exist") concerns activities, which are not simulated.
 *
 * aws-local-stepfunctions has no task tokens and a context object fixed for the whole execution,
 * so a definition is rewritten before its interpreter is built (withCallbackTasks): in a callback
 * state's Parameters, at any depth, `"X.$": "$$.Task.Token"` becomes `"X": TASK_TOKEN_MARKER`, and
 * `$$.Task.Token` as an argument of States.Format, States.JsonToString or States.Array (which carry
 * it through unchanged) becomes the literal string TASK_TOKEN_MARKER; each time the state runs, the
 * simulator issues a token and puts it wherever the evaluated Parameters hold the marker
 * (withTaskToken). Any other reference to `$$.Task` in a callback state (another intrinsic, another
 * field, `$$.Task` itself) and HeartbeatSecondsPath are refused when the state
 * machine is deployed, naming the state, rather than simulated wrongly. TimeoutSecondsPath (a path
 * into the state's input) moves into the Parameters (the interpreter would read it after them), where
 * both the interpreter and the handler (which closes the token then) find each run's timeout.
 *
 * The interpreter races the state's TimeoutSeconds itself (States.Timeout, which States.TaskFailed
 * does not match) but ignores HeartbeatSeconds; the token's own timers close it at the same moment
 * (TimeoutSeconds) and fail the task (HeartbeatSeconds).
 *
 * Simplification: a task left behind in a branch or iteration abandoned while its Parallel or Map
 * state goes on (a sibling failed) is closed when that Parallel or Map state fails or ends.
 */
import { SimulatedAwsError } from './services/errors';

/** What a callback state's evaluated Parameters hold where the state's task token goes. */
export const TASK_TOKEN_MARKER = '__sim_task_token__';

/** Task TimeoutSeconds when the state sets none (see the header). */
export const DEFAULT_TASK_TIMEOUT_SECONDS = 99_999_999;

/** Intrinsic functions that carry a string argument through unchanged (JsonToString: the token needs no escaping). */
const TOKEN_CARRYING_INTRINSICS = new Set(['States.Format', 'States.JsonToString', 'States.Array']);

export type StateDef = Record<string, unknown> & { Type: string };
type Scope = { StartAt: string; States: Record<string, StateDef> };

/** Is this Task resource a callback ("Wait for a Callback with the Task Token") integration? */
export function isCallbackResource(resource: unknown): boolean {
  return typeof resource === 'string' && resource.endsWith('.waitForTaskToken');
}

/** Visit every state of a scope, those inside Parallel branches and Map processors included. */
export function eachState(states: Record<string, StateDef>, visit: (name: string, state: StateDef) => void): void {
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    for (const branch of (state.Branches ?? []) as Scope[]) eachState(branch.States, visit);
    const processor = (state.ItemProcessor ?? state.Iterator) as Scope | undefined;
    if (processor) eachState(processor.States, visit);
  }
}

/** A definition the simulator cannot run faithfully (it names the state and the field). */
function unsupported(state: string, what: string): Error {
  return Object.assign(new Error(`state ${state}: ${what} is not simulated (simulator/task-tokens.ts)`), { name: 'UnsupportedDefinition' });
}

/** `$$.Task.Token` as an intrinsic's argument, not followed by more path. */
const TOKEN_ARGUMENT = /\$\$\.Task\.Token(?![\w.[])/g;

/** An intrinsic expression over `$$.Task.Token`, with the marker as a literal argument instead. */
function markIntrinsic(state: string, field: string, expression: string): string {
  const used = [...expression.matchAll(/(States\.[A-Za-z0-9]+)\s*\(/g)].map((m) => m[1]!);
  const other = used.find((fn) => !TOKEN_CARRYING_INTRINSICS.has(fn));
  if (other) throw unsupported(state, `${field}: $$.Task.Token inside ${other}`);
  const marked = expression.replace(TOKEN_ARGUMENT, `'${TASK_TOKEN_MARKER}'`);
  if (marked.includes('$$.Task')) throw unsupported(state, `${field}: ${expression}`);
  return marked;
}

/** A payload template with its `$$.Task.Token` references replaced by the marker. */
function markTokens(state: string, template: unknown, at: string): unknown {
  if (Array.isArray(template)) return template.map((item, i) => markTokens(state, item, `${at}[${i}]`));
  if (template === null || typeof template !== 'object') return template;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    const field = `${at}.${key}`;
    if (key.endsWith('.$') && typeof value === 'string' && value.includes('$$.Task')) {
      if (value === '$$.Task.Token') out[key.slice(0, -2)] = TASK_TOKEN_MARKER;
      else if (value.startsWith('$')) throw unsupported(state, `${field}: ${value} (only $$.Task.Token itself)`);
      else out[key] = markIntrinsic(state, field, value);
    } else out[key] = markTokens(state, value, field);
  }
  return out;
}

/** One callback state made ready for the interpreter (see the header); throws for what is not simulated. */
function prepareCallbackState(name: string, state: StateDef): void {
  if ('HeartbeatSecondsPath' in state) throw unsupported(name, 'HeartbeatSecondsPath on a callback task');
  if ('TimeoutSecondsPath' in state) {
    // AWS reads TimeoutSecondsPath from the state's input; the interpreter reads it from the input
    // after Parameters. So the path moves into the Parameters (evaluated against the state's input, as
    // AWS does) and the interpreter reads the value there; the handler takes it out before the call
    // and closes the token at that timeout.
    if (state.HeartbeatSeconds !== undefined) throw unsupported(name, 'HeartbeatSeconds with TimeoutSecondsPath');
    if (typeof state.TimeoutSecondsPath !== 'string' || !state.TimeoutSecondsPath.startsWith('$') || state.TimeoutSecondsPath.startsWith('$$')) {
      throw unsupported(name, `TimeoutSecondsPath ${JSON.stringify(state.TimeoutSecondsPath)} (only a path into the state's input)`);
    }
    state.Parameters = { ...((state.Parameters as Record<string, unknown> | undefined) ?? {}), [`${TIMEOUT_FIELD}.$`]: state.TimeoutSecondsPath };
    state.TimeoutSecondsPath = `$.${TIMEOUT_FIELD}`;
  } else if (state.TimeoutSeconds === undefined) state.TimeoutSeconds = DEFAULT_TASK_TIMEOUT_SECONDS;
  if (typeof state.HeartbeatSeconds === 'number' && state.HeartbeatSeconds >= Number(state.TimeoutSeconds)) {
    throw Object.assign(new Error(`state ${name}: HeartbeatSeconds (${state.HeartbeatSeconds}) must be smaller than TimeoutSeconds (${String(state.TimeoutSeconds)})`), { name: 'InvalidDefinition' });
  }
  const params = state.Parameters as Record<string, unknown> | undefined;
  const invocationType = params?.InvocationType ?? params?.['InvocationType.$'];
  if (String(state.Resource).includes(':lambda:invoke.') && invocationType !== undefined && invocationType !== 'RequestResponse') {
    throw unsupported(name, `InvocationType ${JSON.stringify(invocationType)}`);
  }
  if (params !== undefined) state.Parameters = markTokens(name, params, 'Parameters');
  if (JSON.stringify(state).includes('$$.Task')) throw unsupported(name, '$$.Task outside Parameters');
}

/**
 * The definition the interpreter runs: a copy in which every callback state is prepared (its
 * `$$.Task.Token` references marked, its TimeoutSeconds defaulted). Other states are untouched.
 */
export function withCallbackTasks<D extends { States: Record<string, unknown> }>(definition: D): D {
  const copy = structuredClone(definition);
  eachState(copy.States as Record<string, StateDef>, (name, state) => {
    if (state.Type === 'Task' && isCallbackResource(state.Resource)) prepareCallbackState(name, state);
  });
  return copy;
}

/** The states each Parallel and Map state holds (at any depth), by its name. */
export function nestedStates(definition: { States: Record<string, unknown> }): Map<string, Set<string>> {
  const nested = new Map<string, Set<string>>();
  eachState(definition.States as Record<string, StateDef>, (name, state) => {
    const scopes = [...((state.Branches ?? []) as Scope[]), ...[(state.ItemProcessor ?? state.Iterator) as Scope | undefined].filter((s) => s !== undefined)];
    if (scopes.length === 0) return;
    const inside = new Set<string>();
    for (const scope of scopes) eachState(scope.States, (inner) => inside.add(inner));
    nested.set(name, inside);
  });
  return nested;
}

/** The evaluated Parameters with the task token wherever they hold the marker (inside strings too). */
export function withTaskToken(value: unknown, token: string): unknown {
  if (typeof value === 'string') return value.includes(TASK_TOKEN_MARKER) ? value.split(TASK_TOKEN_MARKER).join(token) : value;
  if (Array.isArray(value)) return value.map((item) => withTaskToken(item, token));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withTaskToken(item, token)]));
}

/** Where a prepared callback state with TimeoutSecondsPath carries that timeout in its evaluated Parameters (taken out before the call). */
const TIMEOUT_FIELD = '__sim_timeout_seconds';

/**
 * The TimeoutSeconds and HeartbeatSeconds of one run of a prepared callback state, and the Parameters
 * its resource gets (without the simulator's timeout field).
 */
export function callbackTiming(state: Record<string, unknown>, params: unknown): { timeoutSeconds: number; heartbeatSeconds?: number; params: unknown } {
  let timeoutSeconds = Number(state.TimeoutSeconds);
  let rest = params;
  if ('TimeoutSecondsPath' in state && params !== null && typeof params === 'object' && TIMEOUT_FIELD in params) {
    const { [TIMEOUT_FIELD]: seconds, ...others } = params as Record<string, unknown>;
    timeoutSeconds = Number(seconds);
    rest = others;
  }
  return { timeoutSeconds, ...(typeof state.HeartbeatSeconds === 'number' ? { heartbeatSeconds: state.HeartbeatSeconds } : {}), params: rest };
}

/** A callback task as the API sees it through its token. */
export interface CallbackTask {
  readonly token: string;
  readonly executionArn: string;
  readonly stateName: string;
  /** Until it succeeds, fails, times out, or its execution (or its Parallel or Map state) stops. */
  readonly open: boolean;
}

interface Entry extends CallbackTask {
  open: boolean;
  /** The execution run (an ARN and its redrive count) it belongs to. */
  readonly run: string;
  readonly heartbeatMs?: number;
  heartbeat?: ReturnType<typeof setTimeout>;
  deadline?: ReturnType<typeof setTimeout>;
  resolve(output: unknown): void;
  reject(err: Error): void;
}

/** What a callback state's handler holds of the task it started. */
export interface IssuedTask {
  readonly token: string;
  /** The task's result (SendTaskSuccess' output), or its failure. */
  readonly outcome: Promise<unknown>;
  /** The call that hands the token over failed: the task fails with that error. */
  fail(err: Error): void;
}

/** The task's failure as the interpreter reads it: the error name, the cause as the message. */
function taskFailure(error: string, cause: string): Error {
  return Object.assign(new Error(cause), { name: error });
}

/** The task tokens of one Step Functions service (one simulated account). */
export class TaskTokens {
  private readonly tasks = new Map<string, Entry>();
  private seq = 0;

  /**
   * A fresh token for one run of a callback state. Its timers start now: the heartbeat clock, and
   * TimeoutSeconds, at whose end the token closes (the interpreter fails the task with States.Timeout
   * at that same moment: its timer is set right after this one, so it fires right after it).
   */
  issue(run: string, executionArn: string, stateName: string, timing: { timeoutSeconds: number; heartbeatSeconds?: number }): IssuedTask {
    this.seq += 1;
    // Opaque to its holders (AWS tokens are opaque too); unique within the service.
    const token = Buffer.from(`sim-task-token:${this.seq}:${executionArn}:${stateName}`).toString('base64');
    let resolve!: (output: unknown) => void;
    let reject!: (err: Error) => void;
    const outcome = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Entry = { token, run, executionArn, stateName, open: true, resolve, reject, heartbeatMs: timing.heartbeatSeconds === undefined ? undefined : timing.heartbeatSeconds * 1000 };
    entry.deadline = setTimeout(() => this.close(entry), timing.timeoutSeconds * 1000);
    this.beat(entry);
    this.tasks.set(token, entry);
    return { token, outcome, fail: (err) => this.settle(entry, () => entry.reject(err)) };
  }

  /** The task of a token, still open: InvalidToken for a token never issued, TaskTimedOut for a closed task. */
  open(token: unknown): { succeed(output: unknown): void; fail(error?: string, cause?: string): void; heartbeat(): void } {
    const entry = typeof token === 'string' ? this.tasks.get(token) : undefined;
    if (!entry) throw new SimulatedAwsError('InvalidToken', 'Invalid Token: \'Invalid token\'');
    if (!entry.open) throw new SimulatedAwsError('TaskTimedOut', 'Task Timed Out: \'Provided task does not exist anymore\'');
    return {
      succeed: (output) => this.settle(entry, () => entry.resolve(output)),
      // No error given: the task fails with an empty error name (which States.ALL and States.TaskFailed match).
      fail: (error, cause) => this.settle(entry, () => entry.reject(taskFailure(error ?? '', cause ?? ''))),
      heartbeat: () => this.beat(entry),
    };
  }

  /** The task of a token, open or closed (undefined for a token never issued). */
  get(token: string): CallbackTask | undefined {
    return this.tasks.get(token);
  }

  /** Every task a run (or the given states of it) has open is closed: its tokens answer TaskTimedOut from now on. */
  closeRun(run: string, states?: ReadonlySet<string>): void {
    for (const entry of this.tasks.values()) {
      if (entry.open && entry.run === run && (!states || states.has(entry.stateName))) this.close(entry);
    }
  }

  /** (Re)start the heartbeat clock: without a heartbeat or a result for HeartbeatSeconds, the task fails. */
  private beat(entry: Entry): void {
    if (entry.heartbeatMs === undefined) return;
    clearTimeout(entry.heartbeat);
    entry.heartbeat = setTimeout(() => this.settle(entry, () => entry.reject(taskFailure('States.HeartbeatTimeout', ''))), entry.heartbeatMs);
  }

  private settle(entry: Entry, outcome: () => void): void {
    if (!entry.open) return;
    this.close(entry);
    outcome();
  }

  private close(entry: Entry): void {
    entry.open = false;
    clearTimeout(entry.heartbeat);
    clearTimeout(entry.deadline);
  }
}
