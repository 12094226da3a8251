/** The pipeline execution's input: what a schedule, the console or the CLI may send. */
import * as z from 'zod';

/** Room for { mode, runDate, params } with every parameter at its longest is not needed; 8 KiB is plenty and keeps histories small. */
export const MAX_INPUT_BYTES = 8192;

function isRealDate(value: string): boolean {
  const [y, m, d] = value.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

export const executionInputSchema = z
  .object({
    mode: z.enum(['full', 'preflight'], { error: 'must be "full" or "preflight"' }),
    runDate: z
      .string({ error: 'must be a string "YYYY-MM-DD"' })
      .max(10, { error: 'must be a date "YYYY-MM-DD"' })
      .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date "YYYY-MM-DD"' })
      .refine(isRealDate, { error: 'must be a real calendar date' })
      .optional(),
    /** The run's parameters, as the pipeline config declares them (contract/params.ts); checked by ValidateInput. */
    params: z.unknown().optional(),
  })
  .strict();
