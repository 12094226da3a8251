import { describe, expect, it } from 'vitest';
import { InvalidExecutionInput } from '../../contract/errors';
import { WORKLOAD_ENV_PATTERNS } from '../../contract/workload-env';
import { MAX_INPUT_BYTES } from '../../contract/execution-input';
import { handler } from '../../lambdas/validate-input';

/** What the pipeline's first state hands ValidateInput. */
const event = (input: unknown, startTime = '2026-05-30T09:00:00Z', name = 'weekly-2026-05-30') => ({ input, execution: { id: `arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline:${name}`, name, startTime } });

describe('ValidateInput: accepted input', () => {
  it('{mode: "full"} defaults runDate to the start date in America/Los_Angeles', async () => {
    // Prepare: 09:00 UTC is 02:00 in Los Angeles, the same day.
    const input = { mode: 'full' };

    // Act
    const result = await handler(event(input, '2026-05-30T09:00:00Z'));

    // Assess
    expect(result).toEqual({ run: { mode: 'full', runDate: '2026-05-30', pipelineExecution: 'weekly-2026-05-30', pipelineExecutionArn: 'arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline:weekly-2026-05-30' } });
  });

  it('a start late on Friday evening in Los Angeles is still Friday (03:00 UTC Saturday -> 2026-05-29)', async () => {
    // Prepare
    const input = { mode: 'full' };

    // Act
    const result = await handler(event(input, '2026-05-30T03:00:00Z'));

    // Assess
    expect(result.run.runDate).toBe('2026-05-29');
  });

  it('preflight with an explicit runDate', async () => {
    // Prepare
    const input = { mode: 'preflight', runDate: '2026-02-28' };

    // Act
    const result = await handler(event(input));

    // Assess
    expect(result.run).toMatchObject({ mode: 'preflight', runDate: '2026-02-28' });
  });

  it('a leap day is a real date', async () => {
    // Prepare
    const input = { mode: 'full', runDate: '2028-02-29' };

    // Act
    const result = await handler(event(input));

    // Assess
    expect(result.run.runDate).toBe('2028-02-29');
  });

  it('an execution name with shell characters becomes a safe pipelineExecution', async () => {
    // Prepare
    const name = 'manual run; rm -rf /';

    // Act
    const result = await handler(event({ mode: 'full' }, '2026-05-30T09:00:00Z', name));

    // Assess
    expect(result.run.pipelineExecution).toMatch(WORKLOAD_ENV_PATTERNS.PIPELINE_EXECUTION);
    expect(result.run.pipelineExecution).not.toMatch(/[;/ ]/);
  });
});

describe('ValidateInput: refused input names the field', () => {
  it.each<[string, unknown, RegExp]>([
    ['missing mode', {}, /^mode: /m],
    ['mode "fast"', { mode: 'fast' }, /mode: must be "full" or "preflight"/],
    ['runDate 2026-02-30 (not a real date)', { mode: 'full', runDate: '2026-02-30' }, /runDate: must be a real calendar date/],
    ['runDate 2026-13-01 (no month 13)', { mode: 'full', runDate: '2026-13-01' }, /runDate: must be a real calendar date/],
    ['runDate 20260530 (a number)', { mode: 'full', runDate: 20260530 }, /runDate: must be a string/],
    ['runDate 30/05/2026', { mode: 'full', runDate: '30/05/2026' }, /runDate: must be a date "YYYY-MM-DD"/],
    ['runDate with shell metacharacters', { mode: 'full', runDate: '2026-05-30; rm -rf /' }, /runDate: must be a date "YYYY-MM-DD"/],
    ['an unknown field "extra"', { mode: 'full', extra: 1 }, /"extra": unknown field/],
    ['an array', [{ mode: 'full' }], /must be a JSON object/],
    ['a string', 'full', /must be a JSON object/],
    ['null', null, /must be a JSON object/],
    [`more than ${MAX_INPUT_BYTES} bytes`, { mode: 'full', runDate: 'x'.repeat(MAX_INPUT_BYTES) }, new RegExp(`at most ${MAX_INPUT_BYTES} bytes`)],
  ])('%s', async (_name, input, message) => {
    // Prepare: the row's input.

    // Act
    const validating = handler(event(input));

    // Assess
    await expect(validating).rejects.toThrow(InvalidExecutionInput);
    await expect(validating).rejects.toThrow(message);
  });

  it('an event without the execution context is refused', async () => {
    // Prepare
    const bare = { mode: 'full' };

    // Act
    const validating = handler(bare);

    // Assess
    await expect(validating).rejects.toThrow(InvalidExecutionInput);
  });
});
