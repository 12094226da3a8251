/**
 * The simulated EventBridge: the rules the template deploys, fed with "Step Functions Execution
 * Status Change" events as executions end and with the events the simulated account publishes
 * (EC2 and SSM, services/events.ts), and scheduled rules firing on virtual time. Targets are the
 * deployed Lambda functions, invoked as EventBridge does (asynchronously, with retries).
 *
 * Event patterns (EventBridge user guide, "Creating event patterns"): every field of the pattern
 * must match; a leaf is an array of which any entry may match, and an event field holding an array
 * matches when any of its elements does. An entry is a value (matched exactly, null included) or a
 * content filter ("Content filtering in Amazon EventBridge event patterns"): {"prefix": "..."},
 * {"suffix": "..."}, {"equals-ignore-case": "..."}, {"anything-but": value | [values] | {"prefix":
 * "..."} | {"suffix": "..."}}, {"exists": true | false}, {"numeric": [">", 0, "<=", 5]}. "anything-but",
 * prefix, suffix and numeric never match a field the event lacks. Other filters (wildcard, cidr,
 * $or) are refused when the rule is deployed, naming the rule, rather than silently never matching.
 */
import type { SimulatedLambda } from './lambda-runtime';
import type { SimExecution } from './step-functions';
import { resolve, resourcesOfType, SIM_ACCOUNT, SIM_REGION, type CfnTemplate } from './template';

interface DeployedRule {
  readonly name: string;
  readonly pattern?: Record<string, unknown>;
  readonly scheduleMs?: number;
  readonly targets: string[];
}

export interface Delivery {
  readonly rule: string;
  readonly target: string;
  readonly at: number;
  readonly event: Record<string, unknown>;
  result?: unknown;
  error?: string;
}

/** A content filter the simulator does not implement (see the header). */
function unsupportedFilter(filter: unknown): Error {
  return new Error(`EventBridge content filter ${JSON.stringify(filter)} is not simulated (simulator/event-bus.ts)`);
}

const NUMERIC_OPERATORS: Readonly<Record<string, (a: number, b: number) => boolean>> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '=': (a, b) => a === b,
  '>=': (a, b) => a >= b,
  '>': (a, b) => a > b,
};

/** Does one value (not an array) match a string filter ({"prefix"}, {"suffix"}, {"equals-ignore-case"}) or an exact value? */
function matchesValue(filter: unknown, value: unknown): boolean {
  if (filter === null || typeof filter !== 'object') return filter === value;
  const [[kind, operand], ...rest] = Object.entries(filter) as [string, unknown][];
  if (rest.length > 0 || typeof operand !== 'string') throw unsupportedFilter(filter);
  if (typeof value !== 'string') return false;
  if (kind === 'prefix') return value.startsWith(operand);
  if (kind === 'suffix') return value.endsWith(operand);
  if (kind === 'equals-ignore-case') return value.toLowerCase() === operand.toLowerCase();
  throw unsupportedFilter(filter);
}

function matchesNumeric(conditions: unknown, value: unknown): boolean {
  if (!Array.isArray(conditions) || conditions.length === 0 || conditions.length % 2 !== 0) throw unsupportedFilter({ numeric: conditions });
  const pairs = Array.from({ length: conditions.length / 2 }, (_, i) => [conditions[2 * i], conditions[2 * i + 1]] as const);
  for (const [op, operand] of pairs) if (typeof op !== 'string' || !Object.hasOwn(NUMERIC_OPERATORS, op) || typeof operand !== 'number') throw unsupportedFilter({ numeric: conditions });
  return typeof value === 'number' && pairs.every(([op, operand]) => NUMERIC_OPERATORS[op as string]!(value, operand as number));
}

/** Does one entry of a pattern's array match the event field (present or not; its values, one per array element)? */
function matchesEntry(entry: unknown, present: boolean, values: readonly unknown[]): boolean {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return present && values.some((v) => v === entry);
  const keys = Object.keys(entry);
  const operand = (entry as Record<string, unknown>)[keys[0]!];
  if (keys.length !== 1) throw unsupportedFilter(entry);
  switch (keys[0]) {
    case 'exists':
      if (typeof operand !== 'boolean') throw unsupportedFilter(entry);
      return operand ? present && values.length > 0 : !present;
    case 'numeric':
      return present && values.some((v) => matchesNumeric(operand, v));
    case 'anything-but': {
      const excluded = Array.isArray(operand) ? operand : [operand];
      return present && values.some((v) => !excluded.some((x) => matchesValue(x, v)));
    }
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      return present && values.some((v) => matchesValue(entry, v));
    default:
      throw unsupportedFilter(entry);
  }
}

/** Does an event match an EventBridge pattern (see the header)? */
export function matchesPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    if (key === '$or') throw unsupportedFilter({ $or: expected });
    const present = Object.hasOwn(event, key);
    const actual = present ? event[key] : undefined;
    if (Array.isArray(expected)) return expected.some((entry) => matchesEntry(entry, present, Array.isArray(actual) ? actual : [actual]));
    if (expected && typeof expected === 'object') return actual !== null && typeof actual === 'object' && !Array.isArray(actual) && matchesPattern(expected as Record<string, unknown>, actual as Record<string, unknown>);
    return expected === actual;
  });
}

/** Refuse, at deploy time, a pattern using a filter matchesPattern does not implement (it throws on one). */
function checkPattern(rule: string, pattern: Record<string, unknown>): void {
  const check = (p: Record<string, unknown>): void => {
    for (const [key, expected] of Object.entries(p)) {
      if (key === '$or') throw unsupportedFilter({ $or: expected });
      if (Array.isArray(expected)) for (const entry of expected) matchesEntry(entry, true, ['', 0]);
      else if (expected && typeof expected === 'object') check(expected as Record<string, unknown>);
    }
  };
  try {
    check(pattern);
  } catch (err) {
    throw new Error(`rule ${rule}: ${(err as Error).message}`);
  }
}

function rateMs(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) return undefined;
  const unit = m[2]!.startsWith('minute') ? 60_000 : m[2]!.startsWith('hour') ? 3_600_000 : 86_400_000;
  return Number(m[1]) * unit;
}

/** Delivery delay: EventBridge hands events over within moments, never in the same instant. */
const DELIVERY_DELAY_MS = 1000;
/** Lambda's retries of a failed asynchronous invocation, by default, and the wait before each. */
const DEFAULT_ASYNC_RETRIES = 2;
const ASYNC_RETRY_WAITS_MS = [60_000, 120_000];

export class SimulatedEventBus {
  private readonly rules: DeployedRule[];
  readonly deliveries: Delivery[] = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  /** MaximumRetryAttempts of each function's asynchronous invocations, by function name. */
  private readonly asyncRetries = new Map<string, number>();

  constructor(
    template: CfnTemplate,
    private readonly lambda: SimulatedLambda,
  ) {
    for (const [, config] of resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig')) {
      const props = (resolve(template, config.Properties ?? {}) ?? {}) as { FunctionName?: string; MaximumRetryAttempts?: number };
      if (props.FunctionName !== undefined && props.MaximumRetryAttempts !== undefined) this.asyncRetries.set(props.FunctionName, props.MaximumRetryAttempts);
    }
    this.rules = resourcesOfType(template, 'AWS::Events::Rule').map(([name, rule]) => {
      const props = (resolve(template, rule.Properties ?? {}) ?? {}) as { EventPattern?: Record<string, unknown>; ScheduleExpression?: string; Targets?: { Arn: string }[]; State?: string };
      if (props.EventPattern) checkPattern(name, props.EventPattern);
      return {
        name,
        pattern: props.EventPattern,
        scheduleMs: props.ScheduleExpression ? rateMs(props.ScheduleExpression) : undefined,
        targets: (props.Targets ?? []).map((t) => t.Arn).filter((arn) => this.lambda.has(arn)),
      };
    });
  }

  /** Start the scheduled rules (on the current clock). */
  startSchedules(): void {
    for (const rule of this.rules.filter((r) => r.scheduleMs)) {
      this.timers.push(setInterval(() => this.deliver(rule, { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }), rule.scheduleMs));
    }
  }

  stopSchedules(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  /** An execution ended: tell the rules, as Step Functions does through EventBridge. */
  executionEnded(execution: SimExecution): void {
    const event = {
      version: '0',
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      account: SIM_ACCOUNT,
      region: SIM_REGION,
      time: new Date().toISOString(),
      resources: [execution.arn],
      detail: {
        executionArn: execution.arn,
        stateMachineArn: execution.stateMachine.arn,
        name: execution.name,
        status: execution.status,
        startDate: execution.startedAt,
        stopDate: execution.stoppedAt,
      },
    };
    this.publish(event);
  }

  /**
   * An event reaches EventBridge (PutEvents, or an AWS service sending it): every rule whose pattern
   * matches delivers it to its targets.
   */
  publish(event: Record<string, unknown>): void {
    for (const rule of this.rules) if (rule.pattern && matchesPattern(rule.pattern, event)) this.deliver(rule, event);
  }

  private deliver(rule: DeployedRule, event: Record<string, unknown>): void {
    for (const target of rule.targets) {
      const delivery: Delivery = { rule: rule.name, target, at: Date.now() + DELIVERY_DELAY_MS, event };
      this.deliveries.push(delivery);
      const retries = this.asyncRetries.get(this.lambda.nameOf(target) ?? '') ?? DEFAULT_ASYNC_RETRIES;
      const done = (async () => {
        await new Promise((r) => setTimeout(r, DELIVERY_DELAY_MS));
        for (let attempt = 0; attempt <= retries; attempt++) {
          if (attempt > 0) await new Promise((r) => setTimeout(r, ASYNC_RETRY_WAITS_MS[Math.min(attempt - 1, ASYNC_RETRY_WAITS_MS.length - 1)]));
          try {
            delivery.result = await this.lambda.invoke(target, event);
            delivery.error = undefined;
            return;
          } catch (err) {
            delivery.error = `${(err as Error).name}: ${(err as Error).message}`;
          }
        }
      })();
      this.pending.add(done);
      void done.finally(() => this.pending.delete(done));
    }
  }

  /** Deliveries still on their way. */
  get inFlight(): number {
    return this.pending.size;
  }
}
