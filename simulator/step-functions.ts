/**
 * The simulated Step Functions service: executions of the deployed state machines run in
 * aws-local-stepfunctions. Lambda tasks call the simulated Lambda service; startExecution.sync:2
 * tasks start a child execution and wait for it, stopping it when the parent is stopped, as
 * Step Functions does. Every execution keeps its event log.
 */
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import type { SimulatedLambda } from './lambda-runtime';
import { SIM_ACCOUNT, SIM_REGION, type DeployedStateMachine } from './template';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface SimEvent {
  readonly type: string;
  readonly timestamp: number;
  readonly state?: { name: string; type: string; input: unknown; output?: unknown };
  readonly Error?: string;
  readonly Cause?: unknown;
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
  /** Resolves when the execution has ended (never rejects). */
  readonly done: Promise<SimExecution>;
  abort(): void;
}

/** The phase a SpotPhase execution runs (its input's phase.name). */
export function phaseOf(execution: SimExecution): string | undefined {
  return (execution.input as { phase?: { name?: string } } | null)?.phase?.name;
}

const SYNC_START = /^arn:aws[a-z-]*:states:::states:startExecution\.sync(:2)?$/;
const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:/;

type StateDef = Record<string, unknown> & { Type: string };

function walkStates(states: Record<string, StateDef>, visit: (name: string, state: StateDef) => void): void {
  for (const [name, state] of Object.entries(states)) {
    visit(name, state);
    for (const branch of (state.Branches ?? []) as { States: Record<string, StateDef> }[]) walkStates(branch.States, visit);
    const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, StateDef> } | undefined;
    if (processor) walkStates(processor.States, visit);
  }
}

export class SimulatedStepFunctions {
  readonly executions: SimExecution[] = [];
  /** Called whenever an execution ends (EventBridge listens here). */
  readonly onEnded: ((execution: SimExecution) => void)[] = [];
  private seq = 0;

  constructor(
    private readonly stateMachines: readonly DeployedStateMachine[],
    private readonly lambda: SimulatedLambda,
  ) {
    // Deploying validates every definition, as CreateStateMachine does.
    for (const sm of stateMachines) this.machine(sm);
  }

  private readonly machines = new Map<string, StateMachine>();

  /** One interpreter per state machine. */
  private machine(sm: DeployedStateMachine): StateMachine {
    let machine = this.machines.get(sm.arn);
    if (!machine) {
      machine = buildInterpreter(sm.definition);
      this.machines.set(sm.arn, machine);
    }
    return machine;
  }

  byName(name: string): DeployedStateMachine {
    const sm = this.stateMachines.find((s) => s.name === name);
    if (!sm) throw new Error(`no state machine ${name}`);
    return sm;
  }

  startExecution(stateMachineArn: string, input: unknown, options: { name?: string; parentArn?: string; startAt?: string; redriveCount?: number } = {}): SimExecution {
    const sm = this.stateMachines.find((s) => s.arn === stateMachineArn);
    if (!sm) throw Object.assign(new Error(`State machine ${stateMachineArn} does not exist`), { name: 'StateMachineDoesNotExist' });
    this.seq += 1;
    const name = options.name ?? `sim-${String(this.seq).padStart(4, '0')}`;
    const arn = `arn:aws:states:${SIM_REGION}:${SIM_ACCOUNT}:execution:${sm.name}:${name}`;
    // A redrive runs the deployed (validated) definition from another state: states before it are
    // unreachable from there, which a fresh validation would refuse.
    const machine = options.startAt
      ? new StateMachine({ ...sm.definition, StartAt: options.startAt } as never, { validationOptions: { noValidate: true } })
      : this.machine(sm);
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    walkStates(sm.definition.States as Record<string, StateDef>, (stateName, state) => {
      if (state.Type !== 'Task') return;
      const resource = String(state.Resource);
      if (LAMBDA_ARN.test(resource)) overrides[stateName] = (payload) => this.lambda.invoke(resource, payload);
      else if (SYNC_START.test(resource)) overrides[stateName] = (params) => this.runChild(arn, params as Record<string, unknown>);
      else overrides[stateName] = () => Promise.reject(Object.assign(new Error(`resource ${resource} is not simulated`), { name: 'States.Runtime' }));
    });
    const run = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: overrides as never },
      // The context object as Step Functions fills it; RedriveCount is 0 until the execution is redriven
      // (Step Functions developer guide, "Context object": Execution.RedriveCount).
      context: {
        Execution: { Id: arn, Name: name, RoleArn: `arn:aws:iam::${SIM_ACCOUNT}:role/sim`, RedriveCount: options.redriveCount ?? 0 },
        StateMachine: { Id: sm.arn, Name: sm.name },
      },
    });

    const events: SimEvent[] = [];
    const execution: SimExecution = {
      arn,
      name,
      stateMachine: sm,
      input,
      parentArn: options.parentArn,
      redriveCount: options.redriveCount ?? 0,
      startedAt: Date.now(),
      status: 'RUNNING',
      events,
      abort: () => {
        if (execution.status !== 'RUNNING') return;
        for (const child of this.executions.filter((e) => e.parentArn === arn)) child.abort();
        run.abort();
      },
      done: undefined as never,
    };
    const logged = (async () => {
      for await (const event of run.eventLogs) events.push(event as unknown as SimEvent);
    })();
    (execution as { done: Promise<SimExecution> }).done = run.result.then(
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
    if (status !== 'SUCCEEDED') for (const child of this.executions.filter((e) => e.parentArn === execution.arn)) child.abort();
    execution.status = status;
    execution.stoppedAt = Date.now();
    execution.output = end.output;
    execution.error = end.error;
    execution.cause = end.cause;
    for (const listener of this.onEnded) listener(execution);
    return execution;
  }

  /** startExecution.sync:2: run the child and answer as Step Functions does. */
  private async runChild(parentArn: string, params: Record<string, unknown>): Promise<unknown> {
    const child = this.startExecution(String(params.StateMachineArn), params.Input, { parentArn });
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
    throw Object.assign(new Error(JSON.stringify({ ...description, Error: child.error, Cause: child.cause })), { name: 'States.TaskFailed' });
  }

  /**
   * RedriveExecution: re-run a FAILED, ABORTED or TIMED_OUT execution from its unsuccessful state
   * (entered, never exited) with that state's input, under the same ARN. States that succeeded
   * are not re-run. (A Parallel state is re-run whole here; AWS re-runs only its failed branches.)
   */
  redrive(execution: SimExecution): SimExecution {
    if (execution.status === 'RUNNING' || execution.status === 'SUCCEEDED') {
      throw Object.assign(new Error(`Execution ${execution.arn} is ${execution.status}`), { name: 'ExecutionNotRedrivable' });
    }
    const topLevel = new Set(Object.keys(execution.stateMachine.definition.States));
    const entered = execution.events.filter((e) => e.type === 'StateEntered' && e.state && topLevel.has(e.state.name));
    const unsuccessful = entered.findLast(
      (e) => !execution.events.some((x) => x.type === 'StateExited' && x.state?.name === e.state!.name && x.timestamp >= e.timestamp && execution.events.indexOf(x) > execution.events.indexOf(e)),
    );
    if (!unsuccessful?.state) throw Object.assign(new Error(`Execution ${execution.arn} has no unsuccessful state`), { name: 'ExecutionNotRedrivable' });
    return this.startExecution(execution.stateMachine.arn, unsuccessful.state.input, {
      name: execution.name,
      parentArn: execution.parentArn,
      startAt: unsuccessful.state.name,
      redriveCount: execution.redriveCount + 1,
    });
  }

  /** State transitions of every execution, counted as Step Functions bills them. */
  transitions(): number {
    return this.executions.reduce((sum, e) => sum + e.events.filter((ev) => ev.type === 'StateEntered' || ev.type === 'StateRetried').length, 0);
  }
}

/** Definitions already validated in this process (validation compiles schemas: ~300 ms a time). */
const validatedDefinitions = new Set<string>();

/** Build an interpreter, validating each distinct definition once, as CreateStateMachine does. */
function buildInterpreter(definition: DeployedStateMachine['definition']): StateMachine {
  const key = JSON.stringify(definition);
  const validated = validatedDefinitions.has(key);
  const machine = new StateMachine(definition as never, {
    validationOptions: validated ? { noValidate: true } : { checkArn: false, checkPaths: false },
  });
  validatedDefinitions.add(key);
  return machine;
}

function causeText(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  return typeof cause === 'string' ? cause : JSON.stringify(cause);
}
