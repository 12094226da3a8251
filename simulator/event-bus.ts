/**
 * The simulated EventBridge: the rules the template deploys, fed with "Step Functions Execution
 * Status Change" events as executions end, and scheduled rules firing on virtual time. Targets
 * are the deployed Lambda functions, invoked as EventBridge does (asynchronously, with retries).
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

/** Does an event match an EventBridge pattern (arrays of allowed values, nested objects)? */
export function matchesPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = event[key];
    if (Array.isArray(expected)) return Array.isArray(actual) ? actual.some((a) => expected.includes(a)) : expected.includes(actual);
    if (expected && typeof expected === 'object') return actual !== null && typeof actual === 'object' && matchesPattern(expected as Record<string, unknown>, actual as Record<string, unknown>);
    return expected === actual;
  });
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
