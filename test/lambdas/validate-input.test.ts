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
    expect(result).toEqual({ run: { mode: 'full', runDate: '2026-05-30', pipelineExecution: 'weekly-2026-05-30', pipelineExecutionArn: 'arn:aws:states:us-east-1:123456789012:execution:saturday-pipeline:weekly-2026-05-30', artifacts: {} } });
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

describe('ValidateInput: params, as the config declares them', () => {
  const declared = {
    universeSize: { type: 'integer', min: 1, max: 500, default: 20 },
    model: { type: 'enum', values: ['ridge', 'lasso'] },
    tag: { type: 'string', pattern: '[a-z0-9-]{1,20}', default: 'weekly' },
    threshold: { type: 'number', min: 0, max: 1, default: 0.5 },
    dryRun: { type: 'boolean', default: false },
  };
  const withParams = (input: unknown) => ({ ...event(input), params: declared });

  it('fills in defaults, takes given values, and hands each to the workload as PIPELINE_PARAM_<NAME>', async () => {
    // Act
    const result = await handler(withParams({ mode: 'full', params: { model: 'lasso', universeSize: 50, dryRun: true } }));

    // Assess
    expect(result.run.params).toEqual({
      PIPELINE_PARAM_UNIVERSE_SIZE: '50',
      PIPELINE_PARAM_MODEL: 'lasso',
      PIPELINE_PARAM_TAG: 'weekly',
      PIPELINE_PARAM_THRESHOLD: '0.5',
      PIPELINE_PARAM_DRY_RUN: 'true',
    });
  });

  it.each([
    ['a required parameter missing', { mode: 'full' }, /^params\.model: is required/m],
    ['an undeclared parameter', { mode: 'full', params: { model: 'ridge', universe: 5 } }, /^params\.universe: not a declared parameter \(declared: universeSize, model, tag, threshold, dryRun\)/m],
    ['a number out of range', { mode: 'full', params: { model: 'ridge', universeSize: 501 } }, /^params\.universeSize: must be <= 500/m],
    ['a fraction for an integer', { mode: 'full', params: { model: 'ridge', universeSize: 2.5 } }, /^params\.universeSize: must be a whole number/m],
    ['a string for a number', { mode: 'full', params: { model: 'ridge', threshold: '0.3' } }, /^params\.threshold: must be a number/m],
    ['a value outside the enum', { mode: 'full', params: { model: 'xgboost' } }, /^params\.model: must be one of "ridge", "lasso"/m],
    ['a string off its pattern', { mode: 'full', params: { model: 'ridge', tag: 'Weekly Run; reboot' } }, /^params\.tag: must match/m],
    ['params not an object', { mode: 'full', params: ['model'] }, /^params: must be a JSON object/m],
  ])('%s fails with InvalidExecutionInput naming the field', async (_name, input, message) => {
    // Act
    const run = handler(withParams(input));

    // Assess
    await expect(run).rejects.toThrow(InvalidExecutionInput);
    await expect(run).rejects.toThrow(message);
  });

  it('a pipeline that declares none refuses any', async () => {
    // Act
    const run = handler(event({ mode: 'full', params: { x: 1 } }));

    // Assess
    await expect(run).rejects.toThrow(/params\.x: not a declared parameter \(the pipeline declares none\)/);
  });
});
