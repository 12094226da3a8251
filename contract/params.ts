/**
 * Per-run parameters: declared with a type in the pipeline config (`params`), given in the
 * execution input under `params`, validated by the pipeline's first state (ValidateInput) before
 * anything launches, and handed to every workload as environment variables
 * (`PIPELINE_PARAM_<NAME>`, the name in upper snake case: lookbackDays -> PIPELINE_PARAM_LOOKBACK_DAYS).
 */
import * as z from 'zod';

/** A parameter name: camelCase or snake_case, at most 40 characters. */
export const PARAM_NAME = /^[A-Za-z][A-Za-z0-9_]{0,39}$/;
/** The longest string value a parameter may have (it travels in the SSM command). */
export const MAX_PARAM_STRING = 1024;
/** The most parameters a pipeline may declare. */
export const MAX_PARAMS = 30;

/** The environment variable a parameter reaches the workload as. */
export function paramEnvName(name: string): string {
  return `PIPELINE_PARAM_${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/** A string without control characters other than tab (values are single-quoted into a script; newlines would only confuse logs). */
// eslint-disable-next-line no-control-regex
const printable = (s: string) => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(s);

const text = z
  .string({ error: 'must be a string' })
  .max(MAX_PARAM_STRING, { error: `must be at most ${MAX_PARAM_STRING} characters` })
  .refine(printable, { error: 'must not contain control characters' });

const regexSource = z.string({ error: 'must be a string' }).superRefine((source, ctx) => {
  try {
    new RegExp(source, 'u');
  } catch (err) {
    // Aborting (continue: false): the config's own checks must not run with it, they compile the pattern (declarationProblem).
    ctx.addIssue({ code: 'custom', message: `is not a valid regular expression: ${(err as Error).message}`, continue: false });
  }
});

const finite = z.number({ error: 'must be a number' }).refine(Number.isFinite, { error: 'must be finite' });

export const paramDeclarationSchema = z.discriminatedUnion(
  'type',
  [
    z
      .object({
        type: z.literal('string'),
        description: z.string().max(500).optional(),
        /** The whole value must match this (JavaScript, Unicode mode; anchored for you). */
        pattern: regexSource.optional(),
        default: text.optional(),
      })
      .strict(),
    z
      .object({ type: z.literal('integer'), description: z.string().max(500).optional(), min: z.number().int().optional(), max: z.number().int().optional(), default: z.number().int({ error: 'must be a whole number' }).optional() })
      .strict(),
    z
      .object({ type: z.literal('number'), description: z.string().max(500).optional(), min: finite.optional(), max: finite.optional(), default: finite.optional() })
      .strict(),
    z.object({ type: z.literal('boolean'), description: z.string().max(500).optional(), default: z.boolean({ error: 'must be true or false' }).optional() }).strict(),
    z
      .object({
        type: z.literal('enum'),
        description: z.string().max(500).optional(),
        values: z.array(text.min(1, { error: 'must not be empty' }), { error: 'must be a list of strings' }).min(1, { error: 'must list at least one value' }),
        default: text.optional(),
      })
      .strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? 'type must be one of "string", "integer", "number", "boolean", "enum"' : undefined) },
);
export type ParamDeclaration = z.output<typeof paramDeclarationSchema>;
export type ParamDeclarations = Readonly<Record<string, ParamDeclaration>>;

/** Why a declaration cannot be used (its own default out of its bounds, ...), or undefined. */
export function declarationProblem(decl: ParamDeclaration): string | undefined {
  if ((decl.type === 'integer' || decl.type === 'number') && decl.min !== undefined && decl.max !== undefined && decl.min > decl.max) return `min ${decl.min} is above max ${decl.max}`;
  if (decl.type === 'enum' && new Set(decl.values).size !== decl.values.length) return 'values must not repeat';
  if (decl.default !== undefined) {
    const problem = valueProblem(decl, decl.default);
    if (problem) return `default ${JSON.stringify(decl.default)} ${problem}`;
  }
  return undefined;
}

/** Why a value does not fit its declaration, or undefined when it does. */
export function valueProblem(decl: ParamDeclaration, value: unknown): string | undefined {
  switch (decl.type) {
    case 'string': {
      const parsed = text.safeParse(value);
      if (!parsed.success) return parsed.error.issues[0]!.message;
      if (decl.pattern !== undefined && !new RegExp(`^(?:${decl.pattern})$`, 'u').test(parsed.data)) return `must match /${decl.pattern}/`;
      return undefined;
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number';
      if (decl.type === 'integer' && !Number.isInteger(value)) return 'must be a whole number';
      if (decl.min !== undefined && value < decl.min) return `must be >= ${decl.min}`;
      if (decl.max !== undefined && value > decl.max) return `must be <= ${decl.max}`;
      return undefined;
    }
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'enum':
      return typeof value === 'string' && decl.values.includes(value) ? undefined : `must be one of ${decl.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
}

/**
 * The parameters of one run as the workload sees them (env name -> text), from the declarations
 * and the execution input's `params`; or the problems, each naming its field.
 */
export function resolveParams(declared: ParamDeclarations, given: unknown): { env: Record<string, string> } | { problems: string[] } {
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) return { problems: ['params: must be a JSON object'] };
  const values = (given ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(values)) {
    if (!Object.hasOwn(declared, key)) {
      const known = Object.keys(declared);
      problems.push(`params.${key}: not a declared parameter (${known.length > 0 ? `declared: ${known.join(', ')}` : 'the pipeline declares none'})`);
    }
  }
  const env: Record<string, string> = {};
  for (const [name, decl] of Object.entries(declared)) {
    const value = Object.hasOwn(values, name) ? values[name] : decl.default;
    if (value === undefined) {
      problems.push(`params.${name}: is required (${decl.type}; it has no default)`);
      continue;
    }
    const problem = valueProblem(decl, value);
    if (problem) problems.push(`params.${name}: ${problem}`);
    else env[paramEnvName(name)] = String(value);
  }
  return problems.length > 0 ? { problems } : { env };
}
