/**
 * `start [--preflight] [--param k=v ...] [--run-date YYYY-MM-DD] [--name NAME]`: StartExecution of
 * the pipeline with the input the pipeline validates (contract/execution-input.ts; its params
 * against the config's declarations, contract/params.ts), checked here first: bad input is one
 * line naming the field, exit 2, and nothing is started.
 */
import { executionInputSchema, MAX_INPUT_BYTES } from '../contract/execution-input';
import { resolveParams, type ParamDeclarations } from '../contract/params';
import { CliError, describe, executionArnOf, findPipeline, startExecution } from './aws';
import type { Context } from './context';

export interface StartOptions {
  readonly preflight: boolean;
  readonly params: readonly string[];
  readonly runDate?: string;
  readonly name?: string;
}

/** A `--param` value as its declaration types it (text for an undeclared one: the check names it). */
function typedValue(declared: ParamDeclarations, name: string, text: string): unknown {
  const decl = Object.hasOwn(declared, name) ? declared[name] : undefined;
  // Decimal notation only (Number() would also read "0x1F", " 12 " or "1e2" as numbers).
  if (decl?.type === 'integer' || decl?.type === 'number') return /^-?(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : text;
  if (decl?.type === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return text;
}

/** The execution input, or a CliError (exit 2) naming the field. */
export function executionInput(ctx: Pick<Context, 'config' | 'pipelineName'>, options: StartOptions): Record<string, unknown> {
  const declared: ParamDeclarations = ctx.config.pipelineName === ctx.pipelineName ? (ctx.config.params ?? {}) : {};
  // No prototype: a parameter named __proto__ is a key like any other (and refused as undeclared below).
  const params: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const pair of options.params) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`--param ${pair}: expected NAME=VALUE`, 2);
    const name = pair.slice(0, eq);
    if (Object.hasOwn(params, name)) throw new CliError(`params.${name}: given twice`, 2);
    params[name] = typedValue(declared, name, pair.slice(eq + 1));
  }
  const input = {
    mode: options.preflight ? 'preflight' : 'full',
    ...(options.runDate === undefined ? {} : { runDate: options.runDate }),
    ...(Object.keys(params).length > 0 ? { params } : {}),
  };
  const parsed = executionInputSchema.safeParse(input);
  if (!parsed.success) throw new CliError(parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '), 2);
  // The pipeline's declarations are only known for its own config (--config FILE, or the built-in one).
  if (ctx.config.pipelineName === ctx.pipelineName) {
    const resolved = resolveParams(declared, input.params);
    if ('problems' in resolved) throw new CliError(resolved.problems.join('; '), 2);
  }
  const size = Buffer.byteLength(JSON.stringify(input));
  if (size > MAX_INPUT_BYTES) throw new CliError(`execution input: must be at most ${MAX_INPUT_BYTES} bytes (got ${size})`, 2);
  return input;
}

/**
 * Why a name is not one StartExecution takes, or undefined: 1-80 characters, none of whitespace,
 * brackets < > { } [ ], wildcards ? *, the characters " # % \ ^ | ~ ` $ & , ; : / or control
 * characters (API reference, "StartExecution": name).
 */
export function executionNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 80) return 'must be 1 to 80 characters';
  // eslint-disable-next-line no-control-regex
  const bad = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/.exec(name);
  return bad ? `must not contain ${JSON.stringify(bad[0])} (no whitespace, brackets, wildcards, " # % \\ ^ | ~ \` $ & , ; : / or control characters)` : undefined;
}

export async function startCommand(ctx: Context, options: StartOptions): Promise<number> {
  const input = executionInput(ctx, options);
  if (options.name !== undefined) {
    const problem = executionNameProblem(options.name);
    if (problem) throw new CliError(`--name: ${problem}`, 2);
  }
  const machines = await findPipeline(ctx.clients, ctx.pipelineName);
  if (options.name !== undefined) {
    // A name is an execution's for good (StartExecution: unique per state machine, for 90 days after it
    // closes); and for one still running with the same input StartExecution answers that execution,
    // starting nothing (API reference, "StartExecution": idempotency). Said plainly here, first.
    const existing = await describe(ctx.clients, executionArnOf(machines.pipelineArn, options.name)).catch((err: unknown) => {
      if ((err as { name?: string }).name === 'ExecutionDoesNotExist') return undefined;
      throw err;
    });
    if (existing?.status === 'RUNNING') {
      ctx.out(ctx.json ? JSON.stringify({ executionArn: existing.executionArn, startDate: existing.startDate?.toISOString(), alreadyRunning: true }, null, 2) : existing.executionArn!);
      ctx.err(`${options.name} is already running (started ${existing.startDate?.toISOString()}): nothing new was started`);
      return 0;
    }
    if (existing) throw new CliError(`--name: ${options.name} is taken by an execution that ${existing.status} (a name stays an execution's for 90 days after it closes): choose another`, 2);
  }
  const started = await startExecution(ctx.clients, machines.pipelineArn, input, options.name);
  if (ctx.json) ctx.out(JSON.stringify({ executionArn: started.executionArn, startDate: started.startDate.toISOString(), input }, null, 2));
  else ctx.out(started.executionArn);
  return 0;
}
