/**
 * The simulated Step Functions service: executions of the deployed state machines run in
 * aws-local-stepfunctions. Lambda tasks call the simulated Lambda service; startExecution.sync:2
 * tasks start a child execution and wait for it, stopping it when the parent is stopped, as
 * Step Functions does; AWS SDK integration tasks (arn:aws:states:::aws-sdk:<service>:<action>)
 * call the simulated account. Every execution keeps its event log. The AWS behaviours it follows:
 *
 * - StartExecution (Step Functions API reference, "StartExecution"): the name must be unique for
 *   the account, Region and state machine; "StartExecution is idempotent for STANDARD workflows. For
 *   a STANDARD workflow, if you call StartExecution with the same name and input as a running
 *   execution, the call will succeed and return the same response as the original request. If the
 *   execution is closed or if the input is different, it will return a 400 ExecutionAlreadyExists
 *   error." A name is 1-80 characters without whitespace, brackets < > { } [ ], wildcards ? *,
 *   special characters " # % \ ^ | ~ ` $ & , ; : / or control characters (else InvalidName).
 * - RedriveExecution (Step Functions API reference, "RedriveExecution"): a FAILED, ABORTED or
 *   TIMED_OUT execution continues from its unsuccessful step with the same input, under the same
 *   ARN; the successful steps are not re-run; "for workflows that include an Inline Map or Parallel
 *   state, RedriveExecution API action reschedules and redrives only the iterations and branches
 *   that failed or aborted". A RUNNING or SUCCEEDED execution is ExecutionNotRedrivable.
 * - Errors of service integrations: an optimized integration reports its service's errors as
 *   `<Service>.<ErrorName>` (Step Functions developer guide, "Handle Lambda service exceptions":
 *   "Lambda errors are reported as Lambda.ErrorName", e.g. Lambda.ServiceException); the error name
 *   is the AWS SDK for Java exception's, so StartExecution refused through startExecution.sync:2
 *   is e.g. `StepFunctions.ExecutionAlreadyExistsException`. An AWS SDK integration reports
 *   `ServiceName.ErrorName`, "both in PascalCase", always with the Exception suffix even where the
 *   service's own error name has none, e.g. `S3.BucketAlreadyExistsException`, `AcmPca.
 *   ResourceNotFoundException` (developer guide, "Learning to use AWS service SDK integrations in
 *   Step Functions"). A Task's Retry and Catch see these names (and States.TaskFailed matches them).
 * - Callback tasks ("Wait for a Callback with the Task Token"): `arn:aws:states:::lambda:invoke.
 *   waitForTaskToken` (Parameters FunctionName, Payload) invokes the function with the payload and
 *   `arn:aws:states:::aws-sdk:<service>:<action>.waitForTaskToken` makes the API call; either way the
 *   answer is not the task's result: the task waits for SendTaskSuccess or SendTaskFailure with its
 *   token (task-tokens.ts says how, and what is not simulated). A call that fails fails the task with
 *   its error, named as above. A stopped execution's tokens are closed.
 * - GetExecutionHistory's TaskSubmitted event names the child a startExecution.sync task started
 *   (services/sfn.ts): each start (or idempotent answer) is kept in `submissions`.
 * - After a simulation (acceptOnly), StartExecution and RedriveExecution are checked and answered as
 *   above, and the execution is recorded RUNNING without running: there is no virtual time left.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import type { SimulatedLambda } from './lambda-runtime';
import { callbackTiming, eachState, nestedStates, TaskTokens, withCallbackTasks, withTaskToken } from './task-tokens';
import { SIM_ACCOUNT, SIM_REGION, type DeployedStateMachine } from './template';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface SimEvent {
  readonly type: string;
  readonly timestamp: number;
  readonly state?: { name: string; type: string; input: unknown; output?: unknown };
  readonly Error?: string;
  readonly Cause?: unknown;
  /** Map iteration of the event (Map iteration events, and state events inside an iteration). */
  readonly index?: number;
  /** The Parallel or Map state of a branch or iteration event. */
  readonly parentState?: { name: string; type: string; input: unknown };
  /** Output of a branch or iteration that succeeded. */
  readonly output?: unknown;
  /** The catcher of a StateCaught event. */
  readonly catch?: { catcher: { Next: string } };
}

export interface SimExecution {
  readonly arn: string;
  readonly name: string;
  readonly stateMachine: DeployedStateMachine;
  readonly input: unknown;
  readonly parentArn?: string;
  /** 0 for the original run; n for its n-th redrive (same ARN). */
  readonly redriveCount: number;
  readonly startedAt: number;
  status: ExecutionStatus;
  stoppedAt?: number;
  output?: unknown;
  error?: string;
  cause?: string;
  readonly events: SimEvent[];
  /**
   * Outputs of Parallel branches and Map iterations this run took over from the run it redrives
   * (they were not run again), by "State[index]". Empty for an original run.
   */
  readonly reused: ReadonlyMap<string, unknown>;
  /** Resolves when the execution has ended (never rejects). */
  readonly done: Promise<SimExecution>;
  abort(): void;
}

/** An AWS SDK integration task: the simulated account answers it, or throws the AWS error. */
export type SdkIntegration = (service: string, action: string, parameters: unknown) => Promise<unknown>;

export interface SimulatedStepFunctionsOptions {
  /** Answers arn:aws:states:::aws-sdk:<service>:<action> tasks (service lower-case, action camelCase). */
  readonly sdkIntegration?: SdkIntegration;
}

/** The phase a SpotPhase execution runs (its input's phase.name). */
export function phaseOf(execution: SimExecution): string | undefined {
  return (execution.input as { phase?: { name?: string } } | null)?.phase?.name;
}

/** The shard a SpotPhase execution runs (its input's phase.shard.name); undefined for an unsharded phase. */
export function shardOf(execution: SimExecution): string | undefined {
  return (execution.input as { phase?: { shard?: { name?: string } } } | null)?.phase?.shard?.name;
}

const SYNC_START = /^arn:aws[a-z-]*:states:::states:startExecution\.sync(:2)?$/;
const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:/;
/** arn:aws:states:::lambda:invoke.waitForTaskToken (the optimized Lambda integration, callback pattern). */
const LAMBDA_INVOKE_CALLBACK = /^arn:aws[a-z-]*:states:::lambda:invoke\.waitForTaskToken$/;
/** arn:aws:states:::aws-sdk:serviceName:apiAction, request-response or (.waitForTaskToken) callback; no .sync. */
const SDK_INTEGRATION = /^arn:aws[a-z-]*:states:::aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)(\.waitForTaskToken)?$/;

/**
 * States the simulator adds to a redriven definition (to hand a branch, an iteration or a resumed
 * state the value the run before left it). Their events stay out of the execution's log; state
 * names in deployed definitions never start with this.
 */
const CARRY_PREFIX = '__sim_redrive_';
const CARRY_RESOURCE = 'arn:aws:states:::sim:redrive-carry';
const ROUTE_RESOURCE = 'arn:aws:states:::sim:redrive-route';
const ROUTE_FIELD = `${CARRY_PREFIX}route`;
const MAP_INDEX_FIELD = `${CARRY_PREFIX}index`;
const MAP_ITEM_FIELD = `${CARRY_PREFIX}item`;

type StateDef = Record<string, unknown> & { Type: string };
type Scope = Record<string, unknown> & { StartAt: string; States: Record<string, StateDef> };
type Definition = DeployedStateMachine['definition'];

/** An error a Task state sees, by name, with its cause (what Retry, Catch and the event log read). */
function taskError(name: string, cause: string): Error {
  return Object.assign(new Error(cause), { name });
}

/** Is this an AWS service error (as the SDK throws them: code as name, HTTP status in $metadata)? */
function awsErrorOf(err: unknown): { code: string; message: string; status: number } | undefined {
  if (!(err instanceof Error) || !('$metadata' in err)) return undefined;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 400;
  return { code: err.name, message: err.message, status };
}

/** `ErrorName` with the Exception suffix Step Functions always adds (see the header). */
const withExceptionSuffix = (code: string) => (code.endsWith('Exception') ? code : `${code}Exception`);

/**
 * The PascalCase service name of an AWS SDK integration's error, from the lower-case name in the
 * Resource (developer guide, "Learning to use AWS service SDK integrations": acmpca -> AcmPca).
 */
const SDK_ERROR_PREFIX: Readonly<Record<string, string>> = {
  acmpca: 'AcmPca',
  cloudwatch: 'CloudWatch',
  cloudwatchlogs: 'CloudWatchLogs',
  dynamodb: 'DynamoDb',
  ec2: 'Ec2',
  eventbridge: 'EventBridge',
  lambda: 'Lambda',
  s3: 'S3',
  sfn: 'Sfn',
  sns: 'Sns',
  sqs: 'Sqs',
  ssm: 'Ssm',
};
export function sdkErrorPrefix(service: string): string {
  return Object.hasOwn(SDK_ERROR_PREFIX, service) ? SDK_ERROR_PREFIX[service]! : service.charAt(0).toUpperCase() + service.slice(1);
}

/** The error name a Task state sees when an AWS SDK integration call fails (see the header). */
export function sdkIntegrationErrorName(service: string, code: string): string {
  return `${sdkErrorPrefix(service)}.${withExceptionSuffix(code)}`;
}

/** StartExecution's execution name rules (API reference, "StartExecution": name): 1-80 characters, none of these. */
const NAME_FORBIDDEN = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
const isControl = (c: string) => {
  const code = c.codePointAt(0)!;
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
};
function isValidExecutionName(name: string): boolean {
  return name.length >= 1 && name.length <= 80 && !NAME_FORBIDDEN.test(name) && ![...name].some(isControl);
}

class SimulatedSfnError extends Error {
  readonly $metadata = { httpStatusCode: 400 };
  constructor(code: string, message: string) {
    super(message);
    this.name = code;
  }
}

export class SimulatedStepFunctions {
  readonly executions: SimExecution[] = [];
  /** Marks an execution stopped, so none of its tasks reaches a Lambda or a service any more. */
  private readonly stoppers = new WeakMap<SimExecution, () => void>();
  /**
   * Each child execution a startExecution.sync task started (or, StartExecution being idempotent,
   * was answered with): what GetExecutionHistory's TaskSubmitted event of that task names.
   */
  readonly submissions: { parentArn: string; parentRun: number; state: string; child: SimExecution; at: number }[] = [];
  /**
   * While true, StartExecution and RedriveExecution are answered as AWS answers them (checked,
   * recorded, RUNNING) but the execution does not run: the account is being read after its
   * simulation ended (run.ts serveSimulation), on real timers, where nothing may run any more.
   */
  acceptOnly = false;
  /** Called whenever an execution ends (EventBridge listens here). */
  readonly onEnded: ((execution: SimExecution) => void)[] = [];
  /** Answers the AWS SDK integration tasks; without it they fail with States.Runtime. */
  sdkIntegration?: SdkIntegration;
  /** The task tokens of callback tasks (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat use them). */
  readonly taskTokens = new TaskTokens();
  private seq = 0;

  constructor(
    /** The deployed state machines (ListStateMachines lists them). */
    readonly stateMachines: readonly DeployedStateMachine[],
    private readonly lambda: SimulatedLambda,
    options: SimulatedStepFunctionsOptions = {},
  ) {
    this.sdkIntegration = options.sdkIntegration;
    // Deploying validates every definition, as CreateStateMachine does.
    for (const sm of stateMachines) this.machine(sm);
  }

  private readonly machines = new Map<string, { definition: Definition; machine: StateMachine }>();

  /** One interpreter per state machine, for its definition with the callback states prepared (task-tokens.ts). */
  private machine(sm: DeployedStateMachine): { definition: Definition; machine: StateMachine } {
    let built = this.machines.get(sm.arn);
    if (!built) {
      const definition = withCallbackTasks(sm.definition);
      built = { definition, machine: buildInterpreter(definition) };
      this.machines.set(sm.arn, built);
    }
    return built;
  }

  byName(name: string): DeployedStateMachine {
    const sm = this.stateMachines.find((s) => s.name === name);
    if (!sm) throw new Error(`no state machine ${name}`);
    return sm;
  }

  /**
   * StartExecution, as the API answers it: a new execution, or, for a name already used by a
   * running execution of this state machine with the same input, that execution (idempotent);
   * ExecutionAlreadyExists for a name used by a closed execution or with another input;
   * InvalidName, StateMachineDoesNotExist. The errors are thrown as the SDK throws them.
   */
  startExecution(stateMachineArn: string, input: unknown, options: { name?: string; parentArn?: string } = {}): SimExecution {
    const sm = this.stateMachines.find((s) => s.arn === stateMachineArn);
    if (!sm) throw new SimulatedSfnError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    if (options.name !== undefined) {
      if (!isValidExecutionName(options.name)) {
        throw new SimulatedSfnError('InvalidName', `Invalid Name: '${options.name}'`);
      }
      const existing = this.executions.findLast((e) => e.arn === executionArn(sm, options.name!));
      if (existing) {
        if (existing.status === 'RUNNING' && JSON.stringify(existing.input ?? {}) === JSON.stringify(input ?? {})) return existing;
        throw new SimulatedSfnError('ExecutionAlreadyExists', `Execution Already Exists: '${existing.arn}'`);
      }
    }
    this.seq += 1;
    const name = options.name ?? `sim-${String(this.seq).padStart(4, '0')}`;
    if (this.acceptOnly) return this.recorded(sm, input, { name, parentArn: options.parentArn, redriveCount: 0 });
    return this.run(sm, input, { name, parentArn: options.parentArn, redriveCount: 0 });
  }

  /** An execution accepted while acceptOnly holds: RUNNING, with its start event, and nothing more happens to it. */
  private recorded(sm: DeployedStateMachine, input: unknown, options: { name: string; parentArn?: string; redriveCount: number }): SimExecution {
    const execution: SimExecution = {
      arn: executionArn(sm, options.name),
      name: options.name,
      stateMachine: sm,
      input,
      parentArn: options.parentArn,
      redriveCount: options.redriveCount,
      startedAt: Date.now(),
      status: 'RUNNING',
      events: [{ type: 'ExecutionStarted', timestamp: Date.now(), input } as SimEvent],
      reused: new Map(),
      done: new Promise<SimExecution>(() => undefined),
      abort: () => {
        if (execution.status !== 'RUNNING') return;
        execution.status = 'ABORTED';
        execution.stoppedAt = Date.now();
      },
    };
    this.executions.push(execution);
    return execution;
  }

  /** Run an execution of a state machine (a new one, or a redrive of one under the same ARN). */
  private run(
    sm: DeployedStateMachine,
    input: unknown,
    options: { name: string; parentArn?: string; redriveCount: number; definition?: Definition; carry?: RedrivePlan },
  ): SimExecution {
    const arn = executionArn(sm, options.name);
    // A redrive runs a definition derived from the deployed (validated) one: states before the one
    // it resumes at are unreachable from there, which a fresh validation would refuse.
    const { definition, machine } = options.definition ? redriveInterpreter(options.definition) : this.machine(sm);
    // The tokens of this run (a redrive runs under the same ARN, with tokens of its own).
    const run = `${arn}#${options.redriveCount}`;
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    // Once an execution is stopped, Step Functions schedules nothing more for it ("StopExecution":
    // the execution stops; no further state runs). aws-local-stepfunctions ends a task's pending
    // retry wait on abort and tries the task again: that try must not reach a Lambda or a service.
    let stopped = false;
    const guarded = (handler: (input: unknown) => Promise<unknown>) => (input: unknown) =>
      stopped ? Promise.reject(taskError('States.Runtime', 'the execution was stopped')) : handler(input);
    eachState(definition.States as Record<string, StateDef>, (stateName, state) => {
      if (state.Type !== 'Task') return;
      const resource = String(state.Resource);
      const sdk = SDK_INTEGRATION.exec(resource);
      if (resource === CARRY_RESOURCE) overrides[stateName] = async () => structuredClone(options.carry!.values.get(stateName));
      else if (resource === ROUTE_RESOURCE) overrides[stateName] = async (params) => options.carry!.routeOnce(params as { map: string; index: number });
      else if (LAMBDA_ARN.test(resource)) overrides[stateName] = (payload) => this.lambda.invoke(resource, payload);
      else if (LAMBDA_INVOKE_CALLBACK.test(resource)) overrides[stateName] = this.callbackTask(run, arn, stateName, state, (params) => this.invokeForCallback(params));
      else if (SYNC_START.test(resource)) overrides[stateName] = (params) => this.runChild(arn, params as Record<string, unknown>, { state: stateName, run: options.redriveCount });
      else if (sdk?.[3]) overrides[stateName] = this.callbackTask(run, arn, stateName, state, (params) => this.callSdk(sdk[1]!, sdk[2]!, params));
      else if (sdk) overrides[stateName] = (params) => this.callSdk(sdk[1]!, sdk[2]!, params);
      else overrides[stateName] = () => Promise.reject(taskError('States.Runtime', `resource ${resource} is not simulated`));
    });
    const running = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: Object.fromEntries(Object.entries(overrides).map(([name, handler]) => [name, guarded(handler)])) as never },
      // The context object as Step Functions fills it; RedriveCount is 0 until the execution is redriven
      // (Step Functions developer guide, "Context object": Execution.RedriveCount).
      context: {
        Execution: { Id: arn, Name: options.name, RoleArn: `arn:aws:iam::${SIM_ACCOUNT}:role/sim`, RedriveCount: options.redriveCount },
        StateMachine: { Id: sm.arn, Name: sm.name },
      },
    });

    const events: SimEvent[] = [];
    const execution: SimExecution = {
      arn,
      name: options.name,
      stateMachine: sm,
      input,
      parentArn: options.parentArn,
      redriveCount: options.redriveCount,
      startedAt: Date.now(),
      status: 'RUNNING',
      events,
      reused: options.carry?.reused ?? new Map(),
      abort: () => {
        if (execution.status !== 'RUNNING') return;
        stopped = true;
        this.taskTokens.closeRun(run);
        for (const child of this.executions.filter((e) => e.parentArn === arn)) child.abort();
        running.abort();
      },
      done: undefined as never,
    };
    this.stoppers.set(execution, () => {
      stopped = true;
      this.taskTokens.closeRun(run);
    });
    // A Parallel or Map state that fails or ends abandons whatever its branches still wait for.
    const nested = nestedStates(definition);
    const logged = (async () => {
      for await (const event of running.eventLogs) {
        const e = event as unknown as SimEvent;
        if (e.state && (e.type === 'StateFailed' || e.type === 'StateExited') && nested.has(e.state.name)) this.taskTokens.closeRun(run, nested.get(e.state.name));
        if (!e.state?.name.startsWith(CARRY_PREFIX)) events.push(e);
      }
    })();
    (execution as { done: Promise<SimExecution> }).done = running.result.then(
      async (output) => {
        await logged;
        return this.settle(execution, 'SUCCEEDED', { output });
      },
      async (err: unknown) => {
        await logged.catch(() => undefined);
        if (err instanceof ExecutionAbortedError) return this.settle(execution, 'ABORTED', {});
        if (err instanceof ExecutionTimeoutError) return this.settle(execution, 'TIMED_OUT', { error: 'States.Timeout', cause: 'The execution timed out' });
        const failed = events.findLast((e) => e.type === 'ExecutionFailed');
        if (err instanceof ExecutionError || failed) {
          return this.settle(execution, 'FAILED', { error: failed?.Error ?? 'States.Runtime', cause: causeText(failed?.Cause) });
        }
        return this.settle(execution, 'FAILED', { error: 'States.Runtime', cause: (err as Error).message });
      },
    );
    this.executions.push(execution);
    return execution;
  }

  private settle(execution: SimExecution, status: ExecutionStatus, end: { output?: unknown; error?: string; cause?: string }): SimExecution {
    // A .sync task abandoned by its execution (failed sibling branch, timeout, abort) stops its
    // child execution, as Step Functions does.
    this.stoppers.get(execution)?.();
    if (status !== 'SUCCEEDED') for (const child of this.executions.filter((e) => e.parentArn === execution.arn)) child.abort();
    execution.status = status;
    execution.stoppedAt = Date.now();
    execution.output = end.output;
    execution.error = end.error;
    execution.cause = end.cause;
    for (const listener of this.onEnded) listener(execution);
    return execution;
  }

  /**
   * A callback state's handler: each run of the state gets a fresh token, put where its evaluated
   * Parameters reference $$.Task.Token; then `start` hands them to the resource (its answer is not the
   * result; its failure fails the task) and the task waits for its token (task-tokens.ts). The token is
   * issued synchronously, before the interpreter arms its TimeoutSeconds timer.
   */
  private callbackTask(run: string, executionArn: string, stateName: string, state: StateDef, start: (params: unknown) => Promise<unknown>): (params: unknown) => Promise<unknown> {
    return (evaluated) => {
      const { params, ...timing } = callbackTiming(state, evaluated);
      const task = this.taskTokens.issue(run, executionArn, stateName, timing);
      start(withTaskToken(params, task.token)).catch((err: unknown) => task.fail(err instanceof Error ? err : new Error(String(err))));
      return task.outcome;
    };
  }

  /**
   * lambda:invoke.waitForTaskToken: invoke the function (FunctionName: a name, or a full or partial
   * ARN; a version or alias qualifier is ignored) with the Payload, as a request-response invocation.
   */
  private invokeForCallback(params: unknown): Promise<unknown> {
    const { FunctionName, Payload } = (params ?? {}) as { FunctionName?: unknown; Payload?: unknown };
    return this.lambda.invoke(functionArn(String(FunctionName)), Payload ?? {});
  }

  /**
   * startExecution.sync:2: start the child (StartExecution with the task's StateMachineArn, Input
   * and Name) and wait for it, answering as Step Functions does. A refused StartExecution fails the
   * task with `StepFunctions.<Error>Exception` (see the header); a child that ends other than
   * SUCCEEDED fails it with States.TaskFailed, the child's description as cause.
   */
  private async runChild(parentArn: string, params: Record<string, unknown>, task: { state: string; run: number }): Promise<unknown> {
    // Input may be given as JSON text or as a JSON value; absent, it is {} (API reference, "StartExecution": input).
    let child: SimExecution;
    try {
      const input = typeof params.Input === 'string' ? parseInput(params.Input) : (params.Input ?? {});
      child = this.startExecution(String(params.StateMachineArn), input, { name: params.Name === undefined ? undefined : String(params.Name), parentArn });
      this.submissions.push({ parentArn, parentRun: task.run, state: task.state, child, at: Date.now() });
    } catch (err) {
      const aws = awsErrorOf(err);
      if (!aws) throw err;
      throw taskError(`StepFunctions.${withExceptionSuffix(aws.code)}`, `${aws.message} (Service: AWSStepFunctions; Status Code: ${aws.status}; Error Code: ${aws.code})`);
    }
    await child.done;
    const description = {
      ExecutionArn: child.arn,
      StateMachineArn: child.stateMachine.arn,
      Name: child.name,
      Status: child.status,
      StartDate: child.startedAt,
      StopDate: child.stoppedAt,
      Input: JSON.stringify(child.input),
    };
    if (child.status === 'SUCCEEDED') return { ...description, Output: child.output };
    throw taskError('States.TaskFailed', JSON.stringify({ ...description, Error: child.error, Cause: child.cause }));
  }

  /** An AWS SDK integration task: the call as the state evaluated its Parameters; errors renamed as Step Functions names them. */
  private async callSdk(service: string, action: string, parameters: unknown): Promise<unknown> {
    if (!this.sdkIntegration) throw taskError('States.Runtime', `no AWS SDK integration is simulated (aws-sdk:${service}:${action})`);
    let result: unknown;
    try {
      result = await this.sdkIntegration(service, action, parameters);
    } catch (err) {
      const aws = awsErrorOf(err);
      if (!aws) throw err;
      throw taskError(sdkIntegrationErrorName(service, aws.code), `${aws.message} (Service: ${sdkErrorPrefix(service)}, Status Code: ${aws.status}, Error Code: ${aws.code})`);
    }
    // The answer as it crosses the wire: JSON (dates as text).
    return JSON.parse(JSON.stringify(result ?? {})) as unknown;
  }

  /**
   * RedriveExecution: continue a FAILED, ABORTED or TIMED_OUT execution from its unsuccessful state
   * (entered, never exited) under the same ARN, with the same execution input; the states that
   * succeeded are not re-run. In a Parallel state only the branches that did not succeed run again
   * (each from its own unsuccessful state) and in an inline Map state only such iterations; the
   * others hand over the output they had, and the state assembles its result in branch (item)
   * order, then applies its ResultSelector, ResultPath and OutputPath as always.
   *
   * A Map state entered again later in the redriven run (a loop back to it) runs afresh: only its
   * unsuccessful run is redriven.
   *
   * Simplifications: state names are taken to be unique in the whole definition (CDK makes them
   * so); inside a Map iteration, a nested Parallel or Map state is re-run whole.
   */
  redrive(execution: SimExecution): SimExecution {
    const refused = redriveRefusal(execution, Date.now());
    if (refused) throw Object.assign(new Error(`Execution ${execution.arn}: ${refused}`), { name: 'ExecutionNotRedrivable' });
    const definition = execution.stateMachine.definition as Scope;
    const standing = standingOf(definition, execution.events);
    if (standing?.kind !== 'resume') throw Object.assign(new Error(`Execution ${execution.arn} has no unsuccessful state`), { name: 'ExecutionNotRedrivable' });
    if (this.acceptOnly) return this.recorded(execution.stateMachine, execution.input, { name: execution.name, parentArn: execution.parentArn, redriveCount: execution.redriveCount + 1 });
    const plan = new RedrivePlan(execution.reused);
    const resumed = resumeScope(definition, standing, execution.events, plan);
    return this.run(execution.stateMachine, execution.input, {
      name: execution.name,
      parentArn: execution.parentArn,
      redriveCount: execution.redriveCount + 1,
      definition: { ...definition, ...resumed },
      carry: plan,
    });
  }

  /** State transitions of every execution, counted as Step Functions bills them. */
  transitions(): number {
    return this.executions.reduce((sum, e) => sum + e.events.filter((ev) => ev.type === 'StateEntered' || ev.type === 'StateRetried').length, 0);
  }
}

/** Execution input given as JSON text; text that is not JSON is InvalidExecutionInput (API reference, "StartExecution"). */
function parseInput(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SimulatedSfnError('InvalidExecutionInput', 'Invalid State Machine Execution Input: the input is not valid JSON');
  }
}

/** A Lambda function's ARN from Lambda's FunctionName forms (API reference, "Invoke": name, full or partial ARN). */
function functionArn(name: string): string {
  if (name.startsWith('arn:')) return name.split(':').slice(0, 7).join(':');
  const parts = name.split(':');
  const fn = parts.length >= 3 && parts[1] === 'function' ? parts[2]! : parts[0]!;
  return `arn:aws:lambda:${SIM_REGION}:${SIM_ACCOUNT}:function:${fn}`;
}

function executionArn(sm: DeployedStateMachine, name: string): string {
  return `arn:aws:states:${SIM_REGION}:${SIM_ACCOUNT}:execution:${sm.name}:${name}`;
}

// ----- redrive ----------------------------------------------------------------------------------

type Standing = { kind: 'ended'; output: unknown } | { kind: 'resume'; at: string; input: unknown };

/** The values a redriven definition's carry states answer, and the branch outputs it reuses. */
class RedrivePlan {
  /** Carry state name -> the value it answers. */
  readonly values = new Map<string, unknown>();
  /** "State[index]" -> output reused by this redrive (carried on to the next one). */
  readonly reused = new Map<string, unknown>();
  private seq = 0;
  constructor(readonly carried: ReadonlyMap<string, unknown>) {}

  /** "Map[index]" -> the carry state its iteration goes to in the redriven run. */
  readonly routes = new Map<string, string>();
  private readonly routed = new Set<string>();

  /**
   * Where an iteration of a redriven Map state goes: to its carry state, the first time that
   * iteration runs in this redrive; afresh ("") whenever the Map state is entered again later in
   * the same run (a loop back to it), as Step Functions redrives the unsuccessful run of a state only.
   */
  routeOnce({ map, index }: { map: string; index: number }): string {
    const key = `${map}[${index}]`;
    const carry = this.routes.get(key);
    if (carry === undefined || this.routed.has(key)) return '';
    this.routed.add(key);
    return carry;
  }

  /** A fresh name for a simulator-only state. */
  name(what: string): string {
    this.seq += 1;
    return `${CARRY_PREFIX}${what}_${this.seq}`;
  }

  /** A Task state (simulator-only) that answers `value`, then goes on as `then` says. */
  carry(value: unknown, then: { Next: string } | { End: true }): [string, StateDef] {
    const name = this.name('carry');
    this.values.set(name, value);
    return [name, { Type: 'Task', Resource: CARRY_RESOURCE, ...then }];
  }
}

/**
 * Where a scope (the state machine, a branch, an iteration) stood when its run ended, from the
 * events of its own states: ended with an output, to be resumed at a state with an input, or
 * never started (undefined).
 */
function standingOf(scope: Scope, events: readonly SimEvent[]): Standing | undefined {
  const own = events.filter((e) => e.state && Object.hasOwn(scope.States, e.state.name));
  const lastIndex = own.findLastIndex((e) => e.type === 'StateEntered' || e.type === 'StateExited');
  if (lastIndex < 0) return undefined;
  const last = own[lastIndex]!;
  const { name, input, output } = last.state!;
  if (last.type === 'StateEntered') return { kind: 'resume', at: name, input };
  const state = scope.States[name]!;
  const entered = own.findLastIndex((e, i) => i < lastIndex && e.type === 'StateEntered' && e.state!.name === name);
  const caught = own.slice(entered + 1, lastIndex).findLast((e) => e.type === 'StateCaught' && e.state!.name === name);
  if (caught?.catch) return { kind: 'resume', at: caught.catch.catcher.Next, input: output };
  if (state.End === true || state.Type === 'Succeed') return { kind: 'ended', output };
  // Stopped between states: a Choice is evaluated again on its input; any other state goes on to Next.
  if (state.Type === 'Choice' || typeof state.Next !== 'string') return { kind: 'resume', at: name, input };
  return { kind: 'resume', at: state.Next, input: output };
}

/** A scope that starts at `standing.at` with `standing.input`, its Parallel or Map state there redriven. */
function resumeScope(scope: Scope, standing: Standing & { kind: 'resume' }, events: readonly SimEvent[], plan: RedrivePlan): Scope {
  const [entry, carry] = plan.carry(standing.input, { Next: standing.at });
  const states = { ...scope.States, [standing.at]: redriveState(standing.at, scope.States[standing.at]!, events, plan), [entry]: carry };
  return { ...scope, StartAt: entry, States: states };
}

/** The events of a state's last run: after it was last entered or retried. */
function lastRunOf(name: string, events: readonly SimEvent[]): readonly SimEvent[] {
  const from = events.findLastIndex((e) => (e.type === 'StateEntered' || e.type === 'StateRetried') && e.state?.name === name);
  return events.slice(from + 1);
}

/** A Parallel or Map state redriven: only its unsuccessful branches or iterations run again. */
function redriveState(name: string, state: StateDef, events: readonly SimEvent[], plan: RedrivePlan): StateDef {
  if (state.Type === 'Parallel') return redriveParallel(name, state, lastRunOf(name, events), plan);
  if (state.Type === 'Map') return redriveMap(name, state, lastRunOf(name, events), plan);
  return state;
}

function redriveParallel(name: string, state: StateDef, events: readonly SimEvent[], plan: RedrivePlan): StateDef {
  const branches = (state.Branches as Scope[]).map((branch, i) => {
    const key = `${name}[${i}]`;
    let standing = standingOf(branch, events);
    // A branch the run before took over from its own predecessor left no events: reuse it again.
    if (!standing && plan.carried.has(key)) standing = { kind: 'ended', output: plan.carried.get(key) };
    if (!standing) return branch; // never started: it runs whole
    if (standing.kind === 'resume') return resumeScope(branch, standing, events, plan);
    plan.reused.set(key, standing.output);
    const [reuse, carry] = plan.carry(standing.output, { End: true });
    return { StartAt: reuse, States: { [reuse]: carry } };
  });
  return { ...state, Branches: branches };
}

function redriveMap(name: string, state: StateDef, events: readonly SimEvent[], plan: RedrivePlan): StateDef {
  const processor = (state.ItemProcessor ?? state.Iterator) as Scope;
  const ofThisMap = (e: SimEvent) => e.index !== undefined && (e.parentState?.name === name || (e.state !== undefined && Object.hasOwn(processor.States, e.state.name)));
  const indices = new Set(events.filter(ofThisMap).map((e) => e.index!));
  for (const key of plan.carried.keys()) if (key.startsWith(`${name}[`)) indices.add(Number(key.slice(name.length + 1, -1)));
  const routes: { index: number; next: string }[] = [];
  const added: Record<string, StateDef> = {};
  for (const index of [...indices].sort((a, b) => a - b)) {
    const key = `${name}[${index}]`;
    const succeeded = events.findLast((e) => e.type === 'MapIterationSucceeded' && e.index === index && e.parentState?.name === name);
    let standing: Standing | undefined = succeeded ? { kind: 'ended', output: succeeded.output } : standingOf(processor, events.filter((e) => e.index === index && e.state));
    if (!standing && plan.carried.has(key)) standing = { kind: 'ended', output: plan.carried.get(key) };
    if (!standing) continue; // never started: it runs whole
    if (standing.kind === 'ended') plan.reused.set(key, standing.output);
    const [carryName, carry] = standing.kind === 'ended' ? plan.carry(standing.output, { End: true }) : plan.carry(standing.input, { Next: standing.at });
    added[carryName] = carry;
    routes.push({ index, next: carryName });
  }
  if (routes.length === 0) return state;
  // Each iteration learns its index from the item selector ($$.Map.Item.Index) and is routed: to the
  // output it had, to the state it resumes at, or (by default) to the processor's start with its item.
  // The route is taken once: entered again later in the run, the Map state runs afresh.
  for (const r of routes) plan.routes.set(`${name}[${r.index}]`, r.next);
  const pick = plan.name('pick');
  const route = plan.name('route');
  const unwrap = plan.name('unwrap');
  const selector = state.ItemSelector ?? state.Parameters;
  const itemSelector = { [`${MAP_INDEX_FIELD}.$`]: '$$.Map.Item.Index', ...(selector === undefined ? { [`${MAP_ITEM_FIELD}.$`]: '$$.Map.Item.Value' } : { [MAP_ITEM_FIELD]: selector }) };
  const rest = Object.fromEntries(Object.entries(state).filter(([key]) => key !== 'Iterator' && key !== 'Parameters' && key !== 'ItemSelector')) as StateDef;
  return {
    ...rest,
    ItemSelector: itemSelector,
    ItemProcessor: {
      ...processor,
      StartAt: pick,
      States: {
        ...processor.States,
        ...added,
        [pick]: { Type: 'Task', Resource: ROUTE_RESOURCE, Parameters: { map: name, [`index.$`]: `$.${MAP_INDEX_FIELD}` }, ResultPath: `$.${ROUTE_FIELD}`, Next: route },
        [route]: { Type: 'Choice', Choices: routes.map((r) => ({ Variable: `$.${ROUTE_FIELD}`, StringEquals: r.next, Next: r.next })), Default: unwrap },
        [unwrap]: { Type: 'Pass', InputPath: `$.${MAP_ITEM_FIELD}`, Next: processor.StartAt },
      },
    },
  };
}

/** The interpreter of a redriven run's definition (derived from a validated one; see run()). */
function redriveInterpreter(derived: Definition): { definition: Definition; machine: StateMachine } {
  const definition = withCallbackTasks(derived);
  return { definition, machine: new StateMachine(definition as never, { validationOptions: { noValidate: true } }) };
}

/**
 * Why Step Functions would not redrive this execution now, or undefined when it would. A Standard
 * execution is redrivable when it did not succeed and "didn't complete successfully in the last 14
 * days" (API reference, "RedriveExecution"); the reasons are DescribeExecution's redriveStatusReason
 * wording (API reference, "DescribeExecution").
 */
export const REDRIVABLE_PERIOD_MS = 14 * 86_400_000;
export function redriveRefusal(execution: Pick<SimExecution, 'status' | 'stoppedAt'>, now: number): string | undefined {
  if (execution.status === 'RUNNING' || execution.status === 'SUCCEEDED') return `Execution is ${execution.status} and cannot be redriven.`;
  if (execution.stoppedAt !== undefined && now - execution.stoppedAt > REDRIVABLE_PERIOD_MS) return 'Execution redrivable period exceeded.';
  return undefined;
}

/** Definitions already validated in this process (validation compiles schemas: ~300 ms a time). */
const validatedDefinitions = new Set<string>();

/**
 * Definitions validated by an earlier run on this machine: a marker per definition, named by the
 * sha256 of the definition and of the validator (aws-local-stepfunctions' version), so `npm run
 * simulate` again with the same pipeline does not pay for validating what was found valid; any
 * change to either validates afresh. Best effort: an unwritable cache only means validating again.
 */
const VALIDATED_CACHE = path.join(__dirname, '..', 'node_modules', '.cache', 'spot-pipeline', 'valid-asl');
const validatorVersion = (() => {
  try {
    return (JSON.parse(readFileSync(path.join(__dirname, '..', 'node_modules', 'aws-local-stepfunctions', 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
})();
const markerOf = (key: string) => path.join(VALIDATED_CACHE, createHash('sha256').update(validatorVersion).update('\0').update(key).digest('hex'));

/** Build an interpreter, validating each distinct definition once, as CreateStateMachine does. */
function buildInterpreter(definition: DeployedStateMachine['definition']): StateMachine {
  const key = JSON.stringify(definition);
  const validated = validatedDefinitions.has(key) || existsSync(markerOf(key));
  const machine = new StateMachine(definition as never, {
    validationOptions: validated ? { noValidate: true } : { checkArn: false, checkPaths: false },
  });
  validatedDefinitions.add(key);
  if (!validated) {
    try {
      mkdirSync(VALIDATED_CACHE, { recursive: true });
      writeFileSync(markerOf(key), '');
    } catch {
      // Not cached: the next run validates again.
    }
  }
  return machine;
}

function causeText(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  return typeof cause === 'string' ? cause : JSON.stringify(cause);
}
