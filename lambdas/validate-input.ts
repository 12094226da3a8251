/**
 * ValidateInput: the Saturday pipeline's first state. Accepts { "mode": "full" | "preflight",
 * "runDate"?: "YYYY-MM-DD", "params"?: {...} } and nothing else; the params must be the ones the
 * config declares, each of its type (contract/params.ts), defaults filled in. Anything else fails
 * with InvalidExecutionInput naming the field, before any instance is launched.
 */
import * as z from 'zod';
import { InvalidExecutionInput } from '../contract/errors';
import { executionInputSchema, MAX_INPUT_BYTES } from '../contract/execution-input';
import type { RunContext } from '../contract/job';
import { paramDeclarationSchema, resolveParams, type ParamDeclarations } from '../contract/params';
import { safeExecutionName } from '../contract/storage';

const eventSchema = z.object({
  input: z.unknown(),
  execution: z.object({ id: z.string().min(1), name: z.string(), startTime: z.string() }),
  timezone: z.string().default('America/Los_Angeles'),
  /** The parameters the config declares (the state machine passes them with every run). */
  params: z.record(z.string(), paramDeclarationSchema).default({}),
});

/** The calendar date of an instant in a time zone, as YYYY-MM-DD. */
export function dateIn(timezone: string, instant: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(instant);
}

/** Execution names may hold characters a shell should never see; keep the safe ones. */
export { safeExecutionName };

export function validateExecutionInput(raw: unknown, execution: { id: string; name: string; startTime: string }, timezone: string, declared: ParamDeclarations = {}): RunContext {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidExecutionInput('execution input: must be a JSON object like {"mode": "full"}');
  }
  const size = Buffer.byteLength(JSON.stringify(raw), 'utf8');
  if (size > MAX_INPUT_BYTES) throw new InvalidExecutionInput(`execution input: must be at most ${MAX_INPUT_BYTES} bytes (got ${size})`);
  const unknownKeys = Object.keys(raw).filter((k) => !(k in executionInputSchema.shape));
  if (unknownKeys.length > 0) {
    throw new InvalidExecutionInput(`${unknownKeys.map((k) => JSON.stringify(k)).join(', ')}: unknown field(s); accepted: ${Object.keys(executionInputSchema.shape).map((k) => `"${k}"`).join(', ')}`);
  }
  const result = executionInputSchema.safeParse(raw);
  if (!result.success) {
    throw new InvalidExecutionInput(result.error.issues.map((i) => `${i.path.join('.') || 'execution input'}: ${i.message}`).join('\n'));
  }
  const params = resolveParams(declared, result.data.params);
  if ('problems' in params) throw new InvalidExecutionInput(params.problems.join('\n'));
  return {
    mode: result.data.mode,
    runDate: result.data.runDate ?? dateIn(timezone, new Date(execution.startTime)),
    pipelineExecution: safeExecutionName(execution.name),
    pipelineExecutionArn: execution.id,
    ...(Object.keys(params.env).length > 0 ? { params: params.env } : {}),
    // Build stages add their artifact here ($.run.artifacts.<name>): the object must exist.
    artifacts: {},
  };
}

export async function handler(event: unknown): Promise<{ run: RunContext }> {
  const parsed = eventSchema.safeParse(event);
  if (!parsed.success) throw new InvalidExecutionInput('ValidateInput received no execution context');
  const { input, execution, timezone, params } = parsed.data;
  return { run: validateExecutionInput(input, execution, timezone, params) };
}
