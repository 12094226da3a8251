/**
 * Simulated AWS Step Functions API, as far as the handlers call it: DescribeExecution, answered
 * from the executions of the account's Step Functions service (../step-functions.ts, which runs
 * them), and the callback API (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat) over its task
 * tokens (../task-tokens.ts). The AWS behaviours it follows:
 * - DescribeExecution answers the execution's ARN, state machine ARN, name, status, start date and,
 *   once it has ended, stop date; a redriven execution keeps its ARN and start date, its status is
 *   that of the latest redrive, and it carries redriveCount and redriveDate; an ARN with no
 *   execution is ExecutionDoesNotExist (Step Functions API reference, "DescribeExecution").
 * - SendTaskSuccess (taskToken, output), SendTaskFailure (taskToken, error?, cause?) and
 *   SendTaskHeartbeat (taskToken) answer {} (API reference, each operation: "If the action is
 *   successful, the service sends back an HTTP 200 response with an empty HTTP body"); a token
 *   Step Functions never issued is InvalidToken, the token of a closed task TaskTimedOut, an output
 *   that is not JSON InvalidOutput (SendTaskSuccess). The token is checked first. The length
 *   constraints (taskToken 1-2048, output 262144, error 256, cause 32768) are not checked: the API
 *   reference names no error for them.
 * - DescribeExecution also answers input (JSON text), output once SUCCEEDED, error and cause once
 *   it failed, and redriveStatus (REDRIVABLE for a FAILED, ABORTED or TIMED_OUT execution that
 *   stopped within the last 14 days, else NOT_REDRIVABLE with its redriveStatusReason) (API
 *   reference, "DescribeExecution": Response Elements; "RedriveExecution").
 * - ListStateMachines answers the deployed state machines, { stateMachineArn, name, type,
 *   creationDate } each, maxResults (default 100, at most 1000) and nextToken paging them
 *   (API reference, "ListStateMachines"). A token it did not issue is InvalidToken.
 * - ListExecutions (stateMachineArn; statusFilter, redriveFilter, maxResults, nextToken) answers one
 *   item per execution ARN, "sorted by time, with the most recent execution first" (API reference,
 *   "ListExecutions"): executionArn, stateMachineArn, name, status, startDate, stopDate once it
 *   ended, redriveCount and redriveDate once redriven. An unknown state machine is
 *   StateMachineDoesNotExist.
 * - GetExecutionHistory (executionArn; reverseOrder, maxResults default 100 at most 1000, nextToken,
 *   includeExecutionData default true) answers the HistoryEvent list (API reference,
 *   "GetExecutionHistory", "HistoryEvent"): id from 1, previousEventId, timestamp, type and the
 *   typed details, from the execution's event log (../step-functions.ts): ExecutionStarted (then,
 *   for each redrive, ExecutionRedriven), <Type>StateEntered / <Type>StateExited, a Lambda task's
 *   LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded / LambdaFunctionFailed,
 *   another task's TaskScheduled, TaskStarted, TaskSubmitted (startExecution.sync: output
 *   { ExecutionArn, StartDate } of the child), TaskSucceeded / TaskFailed, MapStateStarted,
 *   MapIterationStarted / Succeeded / Failed, MapStateSucceeded / Failed, ParallelStateStarted,
 *   ParallelStateSucceeded / Failed, and the end: ExecutionSucceeded, ExecutionFailed,
 *   ExecutionAborted or ExecutionTimedOut. Simplifications: previousEventId is the event before;
 *   TaskScheduled's parameters are the state's input (not its evaluated Parameters), a task's
 *   Succeeded output is the state's output except for startExecution.sync, whose output is the
 *   child's description (ExecutionArn, Status, Output...) as Step Functions gives it.
 * - StartExecution (stateMachineArn, name default a UUID, input JSON text default "{}") answers
 *   { executionArn, startDate } (API reference, "StartExecution"; its errors as ../step-functions.ts
 *   says). RedriveExecution (executionArn) answers { redriveDate }; an ARN with no execution is
 *   ExecutionDoesNotExist, a RUNNING or SUCCEEDED one, or one that ended more than 14 days ago,
 *   ExecutionNotRedrivable (API reference, "RedriveExecution"). After a simulation has ended (run.ts serveSimulation) both are accepted
 *   and recorded, RUNNING, but the execution does not run.
 */
import { randomUUID } from 'node:crypto';
import type { SimulatedAccount } from './account';
import { SimulatedAwsError } from './errors';
import { redriveRefusal, type SimEvent, type SimExecution } from '../step-functions';
import type { DeployedStateMachine } from '../template';

/** SendTaskSuccess: the task succeeds with the output (JSON text) as its result. */
export function sendTaskSuccess(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const task = account.stepFunctions.taskTokens.open(input.taskToken);
  let output: unknown;
  try {
    output = JSON.parse(String(input.output)) as unknown;
  } catch {
    throw new SimulatedAwsError('InvalidOutput', 'Invalid Output: the output is not valid JSON');
  }
  task.succeed(output);
  return {};
}

/** SendTaskFailure: the task fails with the error and cause (both optional). */
export function sendTaskFailure(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const task = account.stepFunctions.taskTokens.open(input.taskToken);
  task.fail(typeof input.error === 'string' ? input.error : undefined, typeof input.cause === 'string' ? input.cause : undefined);
  return {};
}

/** SendTaskHeartbeat: the task's heartbeat clock starts again (its TimeoutSeconds does not). */
export function sendTaskHeartbeat(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  account.stepFunctions.taskTokens.open(input.taskToken).heartbeat();
  return {};
}

/** The runs of one execution ARN: the original, then each redrive; ExecutionDoesNotExist when none. */
function runsOf(account: SimulatedAccount, executionArn: unknown): [SimExecution, ...SimExecution[]] {
  const runs = account.stepFunctions.executions.filter((e) => e.arn === executionArn);
  if (runs.length === 0) throw new SimulatedAwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(executionArn)}'`);
  return runs as [SimExecution, ...SimExecution[]];
}

const json = (value: unknown) => JSON.stringify(value ?? null);

/** DescribeExecution (see the header). */
export function describeExecution(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const runs = runsOf(account, input.executionArn);
  const [first, latest] = [runs[0], runs.at(-1)!];
  return {
    executionArn: latest.arn,
    stateMachineArn: latest.stateMachine.arn,
    name: latest.name,
    status: latest.status,
    startDate: new Date(first.startedAt),
    stopDate: latest.stoppedAt === undefined ? undefined : new Date(latest.stoppedAt),
    input: json(first.input),
    inputDetails: { included: true },
    ...(latest.status === 'SUCCEEDED' ? { output: json(latest.output), outputDetails: { included: true } } : {}),
    ...(latest.error === undefined ? {} : { error: latest.error }),
    ...(latest.cause === undefined ? {} : { cause: latest.cause }),
    redriveCount: latest.redriveCount,
    redriveDate: latest.redriveCount > 0 ? new Date(latest.startedAt) : undefined,
    ...redriveStatusOf(latest),
  };
}

/** DescribeExecution's redriveStatus, and its redriveStatusReason when NOT_REDRIVABLE. */
function redriveStatusOf(execution: SimExecution): { redriveStatus: string; redriveStatusReason?: string } {
  const refused = redriveRefusal(execution, Date.now());
  return refused === undefined ? { redriveStatus: 'REDRIVABLE' } : { redriveStatus: 'NOT_REDRIVABLE', redriveStatusReason: refused };
}

/** maxResults and nextToken paging over a list (the token is the offset, opaque to callers). */
function page<T>(items: readonly T[], input: Record<string, unknown>, what: string): { items: T[]; nextToken?: string } {
  const max = input.maxResults === undefined || input.maxResults === 0 ? 100 : Number(input.maxResults);
  if (!Number.isInteger(max) || max < 0 || max > 1000) throw new SimulatedAwsError('ValidationException', `1 validation error detected: Value '${String(input.maxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000`);
  let from = 0;
  if (input.nextToken !== undefined) {
    const decoded = /^(\w+):(\d+)$/.exec(Buffer.from(String(input.nextToken), 'base64url').toString('utf8'));
    if (!decoded || decoded[1] !== what) throw new SimulatedAwsError('InvalidToken', `Invalid Token: '${String(input.nextToken)}'`);
    from = Number(decoded[2]);
  }
  const to = from + max;
  return { items: items.slice(from, to), ...(to < items.length ? { nextToken: Buffer.from(`${what}:${to}`).toString('base64url') } : {}) };
}

/** ListStateMachines (see the header). */
export function listStateMachines(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const all = account.stepFunctions.stateMachines.map((sm: DeployedStateMachine) => ({ stateMachineArn: sm.arn, name: sm.name, type: 'STANDARD', creationDate: new Date(account.startedAt) }));
  const { items, nextToken } = page(all, input, 'statemachines');
  return { stateMachines: items, ...(nextToken ? { nextToken } : {}) };
}

/** ListExecutions (see the header). */
export function listExecutions(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const sm = account.stepFunctions.stateMachines.find((s) => s.arn === input.stateMachineArn);
  if (!sm) throw new SimulatedAwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(input.stateMachineArn)}'`);
  const arns = [...new Set(account.stepFunctions.executions.filter((e) => e.stateMachine.arn === sm.arn).map((e) => e.arn))];
  const items = arns
    .map((arn) => describeExecution(account, { executionArn: arn }) as { executionArn: string; stateMachineArn: string; name: string; status: string; startDate: Date; stopDate?: Date; redriveCount: number; redriveDate?: Date })
    .filter((e) => input.statusFilter === undefined || e.status === input.statusFilter)
    .filter((e) => input.redriveFilter === undefined || (input.redriveFilter === 'REDRIVEN') === e.redriveCount > 0)
    .sort((a, b) => b.startDate.getTime() - a.startDate.getTime())
    .map(({ executionArn, stateMachineArn, name, status, startDate, stopDate, redriveCount, redriveDate }) => ({
      executionArn,
      stateMachineArn,
      name,
      status,
      startDate,
      ...(stopDate ? { stopDate } : {}),
      redriveCount,
      ...(redriveDate ? { redriveDate } : {}),
    }));
  const { items: executions, nextToken } = page(items, input, 'executions');
  return { executions, ...(nextToken ? { nextToken } : {}) };
}

type StateDef = Record<string, unknown> & { Type: string };

/** A state's definition by name, anywhere in the definition (branches and item processors included). */
function stateDefinition(sm: DeployedStateMachine, name: string): StateDef | undefined {
  const find = (states: Record<string, unknown>): StateDef | undefined => {
    if (Object.hasOwn(states, name)) return states[name] as StateDef;
    for (const state of Object.values(states) as StateDef[]) {
      for (const branch of (state.Branches ?? []) as { States: Record<string, unknown> }[]) {
        const found = find(branch.States);
        if (found) return found;
      }
      const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, unknown> } | undefined;
      const found = processor ? find(processor.States) : undefined;
      if (found) return found;
    }
    return undefined;
  };
  return find(sm.definition.States);
}

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:/;
const SYNC_START = /^arn:aws[a-z-]*:states:::states:startExecution\.sync(:2)?$/;

/** A task's resourceType and resource as TaskScheduled names them ("states", "startExecution.sync:2"; "aws-sdk:ec2", "describeInstances"). */
function taskResource(resource: string): { resourceType: string; resource: string } {
  const parts = /^arn:aws[a-z-]*:states:::(.+)$/.exec(resource)?.[1]?.split(':');
  if (!parts || parts.length < 2) return { resourceType: 'unknown', resource };
  return parts[0] === 'aws-sdk' ? { resourceType: `aws-sdk:${parts[1]}`, resource: parts.slice(2).join(':') } : { resourceType: parts[0]!, resource: parts.slice(1).join(':') };
}

type History = { type: string; timestamp: number; [details: string]: unknown }[];

/** The child's description as startExecution.sync:2 returns it (JSON values, dates as epoch ms). */
function childDescription(child: SimExecution): Record<string, unknown> {
  return {
    ExecutionArn: child.arn,
    StateMachineArn: child.stateMachine.arn,
    Name: child.name,
    Status: child.status,
    StartDate: child.startedAt,
    StopDate: child.stoppedAt,
    Input: json(child.input),
    ...(child.status === 'SUCCEEDED' ? { Output: json(child.output) } : {}),
  };
}

/** The history events of one run of an execution (the original, or a redrive), without ids. */
function runHistory(account: SimulatedAccount, run: SimExecution): History {
  const out: History = [];
  const submissions = account.stepFunctions.submissions.filter((s) => s.parentArn === run.arn && s.parentRun === run.redriveCount);
  const used = new Set<object>();
  /** The child a startExecution.sync task's try started, in the order its tries started them. */
  const submittedBy = (state: string) => {
    const found = submissions.find((s) => s.state === state && !used.has(s));
    if (found) used.add(found);
    return found;
  };
  const current = new Map<string, SimExecution>();
  const scheduled = (e: SimEvent, def: StateDef) => {
    const resource = String(def.Resource);
    if (LAMBDA_ARN.test(resource)) {
      out.push({ type: 'LambdaFunctionScheduled', timestamp: e.timestamp, lambdaFunctionScheduledEventDetails: { resource, input: json(e.state!.input), inputDetails: { truncated: false } } });
      out.push({ type: 'LambdaFunctionStarted', timestamp: e.timestamp });
      return;
    }
    const task = taskResource(resource);
    out.push({ type: 'TaskScheduled', timestamp: e.timestamp, taskScheduledEventDetails: { ...task, region: run.arn.split(':')[3], parameters: json(e.state!.input) } });
    out.push({ type: 'TaskStarted', timestamp: e.timestamp, taskStartedEventDetails: task });
    if (SYNC_START.test(resource)) {
      const submission = submittedBy(e.state!.name);
      if (submission) {
        current.set(e.state!.name + String(e.index ?? ''), submission.child);
        out.push({ type: 'TaskSubmitted', timestamp: submission.at, taskSubmittedEventDetails: { ...task, output: json({ ExecutionArn: submission.child.arn, StartDate: submission.child.startedAt }), outputDetails: { truncated: false } } });
      }
    }
  };
  for (const e of run.events) {
    const def = e.state ? stateDefinition(run.stateMachine, e.state.name) : undefined;
    const type = e.state?.type ?? def?.Type ?? '';
    const isTask = type === 'Task' && def !== undefined;
    const lambda = isTask && LAMBDA_ARN.test(String(def.Resource));
    switch (e.type) {
      case 'ExecutionStarted':
        if (run.redriveCount === 0) {
          out.push({ type: 'ExecutionStarted', timestamp: e.timestamp, executionStartedEventDetails: { input: json(run.input), inputDetails: { truncated: false }, roleArn: `arn:aws:iam::${run.arn.split(':')[4]}:role/sim`, stateMachineArn: run.stateMachine.arn } });
        } else {
          out.push({ type: 'ExecutionRedriven', timestamp: e.timestamp, executionRedrivenEventDetails: { redriveCount: run.redriveCount } });
        }
        break;
      case 'StateEntered':
        out.push({ type: `${type}StateEntered`, timestamp: e.timestamp, stateEnteredEventDetails: { name: e.state!.name, input: json(e.state!.input), inputDetails: { truncated: false } } });
        if (isTask) scheduled(e, def);
        else if (type === 'Map') out.push({ type: 'MapStateStarted', timestamp: e.timestamp, mapStateStartedEventDetails: {} });
        else if (type === 'Parallel') out.push({ type: 'ParallelStateStarted', timestamp: e.timestamp });
        break;
      case 'StateRetried':
        if (isTask) scheduled(e, def);
        break;
      case 'StateFailed': {
        const details = { error: e.Error, cause: typeof e.Cause === 'string' ? e.Cause : json(e.Cause) };
        if (lambda) out.push({ type: 'LambdaFunctionFailed', timestamp: e.timestamp, lambdaFunctionFailedEventDetails: details });
        else if (isTask) out.push({ type: 'TaskFailed', timestamp: e.timestamp, taskFailedEventDetails: { ...taskResource(String(def.Resource)), ...details } });
        else if (type === 'Map' || type === 'Parallel') out.push({ type: `${type}StateFailed`, timestamp: e.timestamp });
        break;
      }
      case 'StateExited': {
        const output = json(e.state!.output);
        if (lambda) out.push({ type: 'LambdaFunctionSucceeded', timestamp: e.timestamp, lambdaFunctionSucceededEventDetails: { output, outputDetails: { truncated: false } } });
        else if (isTask && !run.events.some((f) => f.type === 'StateCaught' && f.state?.name === e.state!.name && f.index === e.index && f.timestamp === e.timestamp)) {
          const child = SYNC_START.test(String(def.Resource)) ? current.get(e.state!.name + String(e.index ?? '')) : undefined;
          out.push({ type: 'TaskSucceeded', timestamp: e.timestamp, taskSucceededEventDetails: { ...taskResource(String(def.Resource)), output: child ? json(childDescription(child)) : output, outputDetails: { truncated: false } } });
        } else if (type === 'Map' || type === 'Parallel') out.push({ type: `${type}StateSucceeded`, timestamp: e.timestamp });
        out.push({ type: `${type}StateExited`, timestamp: e.timestamp, stateExitedEventDetails: { name: e.state!.name, output, outputDetails: { truncated: false } } });
        break;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const key = `mapIteration${e.type.slice('MapIteration'.length)}EventDetails`;
        out.push({ type: e.type, timestamp: e.timestamp, [key]: { name: e.parentState?.name, index: e.index } });
        break;
      }
      default:
        // ExecutionSucceeded / Failed / Aborted / Timeout: the end is written from the run's status below.
        break;
    }
  }
  if (run.status === 'RUNNING') return out;
  const at = run.stoppedAt ?? Date.now();
  if (run.status === 'SUCCEEDED') out.push({ type: 'ExecutionSucceeded', timestamp: at, executionSucceededEventDetails: { output: json(run.output), outputDetails: { truncated: false } } });
  else if (run.status === 'FAILED') out.push({ type: 'ExecutionFailed', timestamp: at, executionFailedEventDetails: { error: run.error, cause: run.cause } });
  else if (run.status === 'ABORTED') out.push({ type: 'ExecutionAborted', timestamp: at, executionAbortedEventDetails: {} });
  else out.push({ type: 'ExecutionTimedOut', timestamp: at, executionTimedOutEventDetails: { error: run.error, cause: run.cause } });
  return out;
}

/** The parts of the event details includeExecutionData false leaves out (API reference, "GetExecutionHistory"). */
const EXECUTION_DATA = new Set(['input', 'output', 'parameters', 'inputDetails', 'outputDetails']);

/** GetExecutionHistory (see the header). */
export function getExecutionHistory(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const runs = runsOf(account, input.executionArn);
  const all = runs.flatMap((run) => runHistory(account, run));
  const withData = input.includeExecutionData !== false;
  const events = all.map((event, i) => {
    const { type, timestamp, ...details } = event;
    const typed = Object.fromEntries(
      Object.entries(details).map(([key, value]) => [key, withData || typeof value !== 'object' || value === null ? value : Object.fromEntries(Object.entries(value).filter(([k]) => !EXECUTION_DATA.has(k)))]),
    );
    return { timestamp: new Date(timestamp), type, id: i + 1, previousEventId: i, ...typed };
  });
  const { items, nextToken } = page(input.reverseOrder === true ? events.reverse() : events, input, 'history');
  return { events: items, ...(nextToken ? { nextToken } : {}) };
}

/** StartExecution (see the header). */
export function startExecution(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  let parsed: unknown = {};
  if (input.input !== undefined) {
    try {
      parsed = JSON.parse(String(input.input)) as unknown;
    } catch {
      throw new SimulatedAwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: the input is not valid JSON');
    }
  }
  const name = input.name === undefined ? randomUUID() : String(input.name);
  const execution = asAwsError(() => account.stepFunctions.startExecution(String(input.stateMachineArn), parsed, { name }));
  return { executionArn: execution.arn, startDate: new Date(execution.startedAt) };
}

/** RedriveExecution (see the header). */
export function redriveExecution(account: SimulatedAccount, input: Record<string, unknown>): unknown {
  const latest = runsOf(account, input.executionArn).at(-1)!;
  const run = asAwsError(() => account.stepFunctions.redrive(latest));
  return { redriveDate: new Date(run.startedAt) };
}

/** The simulated Step Functions' own errors (named, with or without $metadata) as the SDK throws them. */
function asAwsError<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof Error && !(err instanceof SimulatedAwsError) && /^[A-Z]\w+$/.test(err.name) && err.name !== 'Error') throw new SimulatedAwsError(err.name, err.message);
    throw err;
  }
}
