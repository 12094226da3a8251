/**
 * The data-plane fields of the config: per-run `params` (contract/params.ts), phase `secrets`
 * (contract/secrets.ts) and `code` directories (resolved by lib/config/load.ts against the config
 * file's directory). Every bad value is refused naming its field; good ones are kept as given.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { loadPipelineConfig, parsePipelineConfig, PipelineConfigError } from '../../lib/config/load';
import { refusal } from './refusal';
import { declarationProblem, MAX_PARAMS } from '../../contract/params';
import { allPhases, type PipelineConfigInput } from '../../contract/config';

const REPO = path.join(__dirname, '..', '..');

const withParams = (params: unknown, enabled = true) => ({ ...structuredClone(SATURDAY_PIPELINE), params, schedules: { enabled } });

/** The built-in pipeline with `secrets` on its phase at phases[1] (Research). */
const withSecrets = (secrets: unknown) => {
  const raw = structuredClone(SATURDAY_PIPELINE) as { phases: Record<string, unknown>[] };
  raw.phases[1]!.secrets = secrets;
  return raw;
};

/** The built-in pipeline with its second and third phases side by side at phases[1]. */
const withParallel = (secrets: unknown) => {
  const raw = structuredClone(SATURDAY_PIPELINE);
  const [first, second, third, fourth] = raw.phases as Record<string, unknown>[];
  raw.phases = [first!, { parallel: [second!, { ...third!, secrets }] }, fourth!] as PipelineConfigInput['phases'];
  return raw;
};

describe('params', () => {
  it('accepts a parameter of every type with its default, as declared', () => {
    // Prepare
    const params = {
      lookbackDays: { type: 'integer', description: 'Days of history', min: 1, max: 365, default: 30 },
      threshold: { type: 'number', min: -1.5, max: 1.5, default: 0.25 },
      region_code: { type: 'string', pattern: '[a-z]{2}-[a-z]+-[0-9]', default: 'us-east-1' },
      note: { type: 'string', default: '' },
      dryRun: { type: 'boolean', default: false },
      universe: { type: 'enum', values: ['sp500', 'russell2000'], default: 'sp500' },
    };

    // Act
    const config = parsePipelineConfig(withParams(params));

    // Assess
    expect(config.params).toEqual(params);
  });

  it('accepts parameters without defaults while schedules are disabled', () => {
    // Prepare
    const params = {
      lookbackDays: { type: 'integer', min: 1 },
      threshold: { type: 'number' },
      label: { type: 'string' },
      dryRun: { type: 'boolean' },
      universe: { type: 'enum', values: ['sp500'] },
    };

    // Act
    const config = parsePipelineConfig(withParams(params, false));

    // Assess
    expect(config.params).toEqual(params);
  });

  it('declares none by default', () => {
    // Prepare
    const { params: _params, ...raw } = structuredClone(SATURDAY_PIPELINE);

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(config.params).toEqual({});
  });

  it.each([
    { what: 'a parameter without a default while schedules are enabled', params: { lookbackDays: { type: 'integer', min: 1 } }, message: 'params.lookbackDays.default: is required while schedules are enabled' },
    { what: 'an enum without a default while schedules are enabled', params: { universe: { type: 'enum', values: ['sp500'] } }, message: 'params.universe.default: is required while schedules are enabled' },
    {
      what: 'two names that reach the workload as one variable',
      params: { lookbackDays: { type: 'integer', default: 1 }, lookback_days: { type: 'integer', default: 2 } },
      message: 'params.lookback_days: reaches the workload as PIPELINE_PARAM_LOOKBACK_DAYS, as lookbackDays does; rename one',
    },
    {
      what: 'two names differing only in the case of their first letter',
      params: { LookbackDays: { type: 'integer', default: 1 }, lookbackDays: { type: 'integer', default: 2 } },
      message: 'params.lookbackDays: reaches the workload as PIPELINE_PARAM_LOOKBACK_DAYS, as LookbackDays does; rename one',
    },
    { what: 'an integer default above its max', params: { lookbackDays: { type: 'integer', min: 1, max: 365, default: 400 } }, message: 'params.lookbackDays: default 400 must be <= 365' },
    { what: 'an integer default below its min', params: { lookbackDays: { type: 'integer', min: 1, default: 0 } }, message: 'params.lookbackDays: default 0 must be >= 1' },
    { what: 'a number default out of its bounds', params: { threshold: { type: 'number', min: 0, max: 1, default: 1.5 } }, message: 'params.threshold: default 1.5 must be <= 1' },
    { what: 'a string default not matching its pattern', params: { region: { type: 'string', pattern: '[a-z]{2}-[a-z]+-[0-9]', default: 'US-EAST-1' } }, message: 'params.region: default "US-EAST-1" must match /[a-z]{2}-[a-z]+-[0-9]/' },
    { what: 'an enum default not among its values', params: { universe: { type: 'enum', values: ['sp500', 'russell2000'], default: 'nasdaq' } }, message: 'params.universe: default "nasdaq" must be one of "sp500", "russell2000"' },
    { what: 'min above max', params: { lookbackDays: { type: 'integer', min: 10, max: 1, default: 5 } }, message: 'params.lookbackDays: min 10 is above max 1' },
    { what: 'an enum repeating a value', params: { universe: { type: 'enum', values: ['sp500', 'sp500'], default: 'sp500' } }, message: 'params.universe: values must not repeat' },
    { what: 'a fractional integer default', params: { lookbackDays: { type: 'integer', default: 1.5 } }, message: 'params.lookbackDays.default: must be a whole number' },
    { what: 'a boolean default that is a string', params: { dryRun: { type: 'boolean', default: 'yes' } }, message: 'params.dryRun.default: must be true or false' },
    { what: 'a string default with a newline', params: { label: { type: 'string', default: 'a\nb' } }, message: 'params.label.default: must not contain control characters' },
    { what: 'a string default with a NUL', params: { label: { type: 'string', default: 'a\0b' } }, message: 'params.label.default: must not contain control characters' },
    { what: 'a string default too long', params: { label: { type: 'string', default: 'x'.repeat(1025) } }, message: 'params.label.default: must be at most 1024 characters' },
    { what: 'a pattern that is no regular expression', params: { label: { type: 'string', pattern: '(', default: 'a' } }, message: 'params.label.pattern: is not a valid regular expression' },
    { what: 'an enum without values', params: { universe: { type: 'enum', values: [], default: 'a' } }, message: 'params.universe.values: must list at least one value' },
    { what: 'an unknown type', params: { threshold: { type: 'float', default: 1 } }, message: 'params.threshold.type: type must be one of "string", "integer", "number", "boolean", "enum"' },
    { what: 'a name with a dash', params: { 'lookback-days': { type: 'integer', default: 1 } }, message: 'params.lookback-days: must start with a letter and hold only letters, digits and _ (at most 40)' },
    { what: 'a name starting with a digit', params: { '1day': { type: 'integer', default: 1 } }, message: 'params.1day: must start with a letter and hold only letters, digits and _ (at most 40)' },
    { what: 'a name longer than 40', params: { ['a'.repeat(41)]: { type: 'integer', default: 1 } }, message: `params.${'a'.repeat(41)}: must start with a letter` },
    {
      what: `more than ${MAX_PARAMS} parameters`,
      params: Object.fromEntries(Array.from({ length: MAX_PARAMS + 1 }, (_, i) => [`p${i}`, { type: 'boolean', default: true }])),
      message: `params: must declare at most ${MAX_PARAMS} parameters`,
    },
  ])('refuses $what, naming the field', ({ params, message }) => {
    // Prepare
    const raw = withParams(params);

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(message);
  });

  it(`accepts exactly ${MAX_PARAMS} parameters`, () => {
    // Prepare
    const params = Object.fromEntries(Array.from({ length: MAX_PARAMS }, (_, i) => [`p${i}`, { type: 'boolean', default: true }]));

    // Act
    const config = parsePipelineConfig(withParams(params));

    // Assess
    expect(Object.keys(config.params)).toHaveLength(MAX_PARAMS);
  });

  it('refuses an unknown field of a declaration, naming it', () => {
    // Prepare
    const raw = withParams({ lookbackDays: { type: 'integer', default: 1, maximum: 5 } });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toMatch(/^params\.lookbackDays: .*maximum/m);
  });

  it('a "__proto__" parameter (JSON.parse makes it an own key) neither reaches the config nor pollutes Object.prototype', () => {
    // Prepare
    const raw = withParams(JSON.parse('{"__proto__": {"type": "integer", "default": 1, "polluted": true}}'));

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(Object.keys(config.params)).toEqual([]);
    expect(Object.getPrototypeOf(config.params)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).type).toBeUndefined();
  });
});

describe('secrets', () => {
  it('accepts secrets of both services, as given', () => {
    // Prepare
    const secrets = { DB_PASSWORD: 'ssm:/alpha/db-password', PLAIN: 'ssm:alpha.plain_name', API_KEY: 'secretsmanager:alpha/api-key', TOKEN_2: 'secretsmanager:team+x=y@z.w_v-1' };

    // Act
    const config = parsePipelineConfig(withSecrets(secrets));

    // Assess
    expect(config.phases[1]).toMatchObject({ name: 'Research', secrets });
  });

  it.each([
    { name: 'db_password', message: 'must be an environment variable name in upper snake case (A-Z, 0-9, _; at most 64)' },
    { name: '1PASSWORD', message: 'must be an environment variable name in upper snake case' },
    { name: 'DB-PASSWORD', message: 'must be an environment variable name in upper snake case' },
    { name: 'A'.repeat(65), message: 'must be an environment variable name in upper snake case' },
    { name: 'PIPELINE_TOKEN', message: 'must not start with PIPELINE_ or AWS_ (the pipeline and the AWS CLI use those)' },
    { name: 'AWS_SECRET_ACCESS_KEY', message: 'must not start with PIPELINE_ or AWS_' },
    { name: 'PATH', message: 'must not be PATH, which the shell uses' },
    { name: 'HOME', message: 'must not be HOME, which the shell uses' },
    { name: 'LD_PRELOAD', message: 'must not be LD_PRELOAD, which the shell uses' },
    { name: 'UID', message: 'must not be UID, which the shell uses' },
    { name: 'RANDOM', message: 'must not be RANDOM, which the shell uses' },
    { name: 'BASH_ENV', message: 'must not start with BASH_ or LC_' },
    { name: 'LC_ALL', message: 'must not start with BASH_ or LC_' },
    { name: 'WORK_DIR', message: 'must not be WORK_DIR, which the on-instance runner uses' },
  ])('refuses the secret name $name, naming it', ({ name, message }) => {
    // Prepare
    const raw = withSecrets({ [name]: 'ssm:/alpha/db-password' });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`phases[1].secrets.${name} (phase Research): ${message}`);
  });

  it.each([
    { source: 'ssm:', message: 'the parameter name must hold only letters, digits and _ . - /' },
    { source: 'ssm:/', message: 'the parameter name must hold only letters, digits and _ . - /' },
    { source: 'ssm:/alpha/db password', message: 'the parameter name must hold only letters, digits and _ . - /' },
    { source: 'ssm:/alpha/*', message: 'the parameter name must hold only letters, digits and _ . - /' },
    { source: 'ssm:arn:aws:ssm:us-east-1:123456789012:parameter/alpha/db-password', message: 'the parameter name must hold only letters, digits and _ . - /' },
    { source: 'secretsmanager:', message: 'the secret name must hold only letters, digits and / _ + = . @ -' },
    { source: 'secretsmanager:alpha/*', message: 'the secret name must hold only letters, digits and / _ + = . @ -' },
    { source: 'secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:alpha/api-key-AbCdEf', message: 'the secret name must hold only letters, digits and / _ + = . @ - (at most 512 characters; name the secret, not its ARN)' },
    { source: 'arn:aws:ssm:us-east-1:123456789012:parameter/alpha/db-password', message: 'must be "ssm:/parameter/name" or "secretsmanager:secret-name"' },
    { source: 'vault:/alpha/db-password', message: 'must be "ssm:/parameter/name" or "secretsmanager:secret-name"' },
    { source: '/alpha/db-password', message: 'must be "ssm:/parameter/name" or "secretsmanager:secret-name"' },
    { source: 'ssm:/alpha/db\nEVIL|ssm:/other', message: 'the parameter name must hold only letters, digits and _ . - /' },
    { source: 42, message: 'must be a string like "ssm:/name" or "secretsmanager:name"' },
  ])('refuses the source $source, naming the secret', ({ source, message }) => {
    // Prepare
    const raw = withSecrets({ DB_PASSWORD: source });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`phases[1].secrets.DB_PASSWORD (phase Research): ${message}`);
  });

  it.each([
    { what: 'a list', secrets: ['ssm:/alpha/db-password'] },
    { what: 'a string', secrets: 'ssm:/alpha/db-password' },
  ])('refuses secrets that are $what', ({ secrets }) => {
    // Prepare
    const raw = withSecrets(secrets);

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[1].secrets (phase Research): must map environment variable names to "ssm:/name" or "secretsmanager:name"');
  });

  it('refuses more than 20 secrets', () => {
    // Prepare
    const raw = withSecrets(Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`SECRET_${i}`, `ssm:/alpha/s${i}`])));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[1].secrets (phase Research): must declare at most 20 secrets');
  });

  it('names the phase of a parallel group by its place in the group', () => {
    // Prepare
    const raw = withParallel({ db_password: 'ssm:/alpha/db-password', API_KEY: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:x' });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[1].parallel[1].secrets.db_password (phase PredictorTraining): must be an environment variable name in upper snake case');
    expect(refused).toContain('phases[1].parallel[1].secrets.API_KEY (phase PredictorTraining): must be "ssm:/parameter/name" or "secretsmanager:secret-name"');
  });
});

describe('code directories', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'data-plane-config-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the config to <dir>/config/pipeline.json and returns its path. */
  const writeConfig = (raw: unknown): string => {
    mkdirSync(path.join(dir, 'config'), { recursive: true });
    const file = path.join(dir, 'config', 'pipeline.json');
    writeFileSync(file, JSON.stringify(raw));
    return file;
  };

  /** The message loading the config file is refused with. */
  const loadRefusal = (file: string): string => {
    try {
      loadPipelineConfig(file);
    } catch (err) {
      if (err instanceof PipelineConfigError) return err.message;
      throw err;
    }
    throw new Error('expected the config to be refused, but it was accepted');
  };

  it('resolves code relative to the config file\'s directory, not the working directory', () => {
    // Prepare
    mkdirSync(path.join(dir, 'config', 'code', 'research'), { recursive: true });
    mkdirSync(path.join(dir, 'shared'));
    const raw = structuredClone(SATURDAY_PIPELINE) as { code?: string; phases: Record<string, unknown>[] };
    raw.code = '../shared';
    raw.phases[1]!.code = './code/research';
    const file = writeConfig(raw);

    // Act
    const config = loadPipelineConfig(file);

    // Assess
    expect(config.code).toBe(path.join(dir, 'shared'));
    expect(config.phases[1]).toMatchObject({ name: 'Research', code: path.join(dir, 'config', 'code', 'research') });
    expect(allPhases(config)[0]).toMatchObject({ name: 'DataPhase1' });
    expect(allPhases(config)[0]!.code).toBeUndefined();
    expect(path.isAbsolute(config.code!)).toBe(true);
  });

  it('keeps an absolute code directory as it is', () => {
    // Prepare
    mkdirSync(path.join(dir, 'elsewhere'));
    const file = writeConfig({ ...structuredClone(SATURDAY_PIPELINE), code: path.join(dir, 'elsewhere') });

    // Act
    const config = loadPipelineConfig(file);

    // Assess
    expect(config.code).toBe(path.join(dir, 'elsewhere'));
  });

  it('resolves the code of a phase in a parallel group', () => {
    // Prepare
    mkdirSync(path.join(dir, 'config', 'training'), { recursive: true });
    const raw = withParallel(undefined) as { code?: string; phases: { parallel?: Record<string, unknown>[] }[] };
    raw.code = '.';
    raw.phases[1]!.parallel![1]!.code = 'training';
    const file = writeConfig(raw);

    // Act
    const config = loadPipelineConfig(file);

    // Assess
    expect(config.code).toBe(path.join(dir, 'config'));
    expect(config.phases[1]).toMatchObject({ kind: 'parallel', parallel: [{ name: 'Research' }, { name: 'PredictorTraining', code: path.join(dir, 'config', 'training') }] });
  });

  it('refuses a missing code directory, naming the phase\'s field and the pipeline\'s', () => {
    // Prepare
    const raw = structuredClone(SATURDAY_PIPELINE) as { code?: string; phases: Record<string, unknown>[] };
    raw.code = 'no-such-dir';
    raw.phases[0]!.code = 'code/data';
    const file = writeConfig(raw);

    // Act
    const refused = loadRefusal(file);

    // Assess
    expect(refused).toContain(`code: code directory ${path.join(dir, 'config', 'no-such-dir')} does not exist or is not a directory`);
    expect(refused).toContain(`phases[0].code (phase DataPhase1): code directory ${path.join(dir, 'config', 'code', 'data')} does not exist or is not a directory`);
  });

  it('refuses a code path that is a file, naming the field', () => {
    // Prepare
    writeFileSync(path.join(dir, 'run.sh'), 'echo hi\n');
    const raw = withParallel(undefined) as { phases: { parallel?: Record<string, unknown>[] }[] };
    raw.phases[1]!.parallel![0]!.code = path.join(dir, 'run.sh');

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`phases[1].parallel[0].code (phase Research): code directory ${path.join(dir, 'run.sh')} does not exist or is not a directory`);
  });

  it.each([
    { code: '', message: 'must not be empty' },
    { code: 42, message: 'must be a path to a directory' },
    { code: 'x'.repeat(1025), message: 'must be at most 1024 characters' },
  ])('refuses the code $code, naming the field', ({ code, message }) => {
    // Prepare
    const raw = { ...structuredClone(SATURDAY_PIPELINE), code };

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`code: ${message}`);
  });
});

describe('the built-in pipeline', () => {
  it('runs the code in workloads/saturday of this repository, wherever synth runs', () => {
    // Act
    const config = loadPipelineConfig();

    // Assess
    expect(config.code).toBe(path.join(REPO, 'workloads', 'saturday'));
  });

  it('declares universeSize and stepSeconds, each with a default that fits it', () => {
    // Act
    const { params } = loadPipelineConfig();

    // Assess
    expect(Object.keys(params).sort()).toEqual(['stepSeconds', 'universeSize']);
    for (const decl of Object.values(params)) {
      expect(decl).toMatchObject({ type: 'integer', default: expect.any(Number) });
      expect(declarationProblem(decl)).toBeUndefined();
    }
  });
});
