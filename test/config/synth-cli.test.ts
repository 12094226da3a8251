/**
 * The CDK app as `cdk synth` runs it: a bad config fails synth with exit status 2, naming the
 * phase and field, before any template is written; the built-in config synthesizes a template.
 * Child processes, bundling skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';

const PROJECT_ROOT = resolve(__dirname, '..', '..');

type RawConfig = Record<string, unknown> & { phases: Record<string, unknown>[] };

/** Run bin/app.ts as the CDK CLI would, with the given context and output directory. */
function synthApp(context: Record<string, unknown>, outdir: string) {
  return spawnSync('npx', ['tsx', 'bin/app.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      CDK_CONTEXT_JSON: JSON.stringify({ ...context, 'aws:cdk:bundling-stacks': [] }),
      CDK_OUTDIR: outdir,
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('cdk synth of bin/app.ts', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'synth-cli-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails naming the phase and budgetSeconds when the config is bad', () => {
    // Prepare
    const config = structuredClone(SATURDAY_PIPELINE) as unknown as { phases: Record<string, unknown>[] };
    config.phases[2]!.attemptSeconds = 12000; // PredictorTraining's budget is 10800 s
    const configFile = join(dir, 'bad-pipeline.json');
    writeFileSync(configFile, JSON.stringify(config));
    const outdir = join(dir, 'bad-out');
    mkdirSync(outdir);

    // Act
    const result = synthApp({ pipelineConfig: configFile }, outdir);

    // Assess
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('PredictorTraining');
    expect(result.stderr).toContain('budgetSeconds');
    expect(result.stderr).toContain('phases[2].budgetSeconds');
    expect(readdirSync(outdir).filter((f) => f.endsWith('.template.json'))).toEqual([]);
  });

  it('fails with exit status 2 naming every field AWS would refuse (state name, time zone, cron, architecture), before CDK builds anything', () => {
    // Prepare: one config, four mistakes (each is unit-tested in aws-acceptance.test.ts; here the CLI's answer).
    const config = structuredClone(SATURDAY_PIPELINE) as unknown as RawConfig;
    config.phases[3]!.name = 'PipelineSucceeded';
    config.schedules = { timezone: 'PST', fullRun: 'cron(0 2 * * SAT *)' };
    config.phases[2]!.instanceTypes = ['c5.large', 'c6g.large'];
    const configFile = join(dir, 'aws-would-refuse.json');
    writeFileSync(configFile, JSON.stringify(config));
    const outdir = join(dir, 'aws-would-refuse-out');
    mkdirSync(outdir);

    // Act
    const result = synthApp({ pipelineConfig: configFile }, outdir);

    // Assess
    expect(result.error).toBeUndefined();
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toContain(`Invalid pipeline config ${configFile}:`);
    for (const field of ['phases[3].name', 'schedules.timezone', 'schedules.fullRun', 'phases[2].instanceTypes[1]']) {
      expect(result.stderr).toMatch(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}( \\(phase \\w+\\))?: `, 'm'));
    }
    expect(result.stderr).not.toMatch(/at .*node_modules|ValidationError|There is already a Construct/);
    expect(readdirSync(outdir).filter((f) => f.endsWith('.template.json'))).toEqual([]);
  });

  it('writes a template for the built-in config', () => {
    // Prepare
    const outdir = join(dir, 'default-out');

    // Act
    const result = synthApp({}, outdir);

    // Assess
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(0);
    const templateFile = join(outdir, 'saturday-pipeline.template.json');
    expect(existsSync(templateFile)).toBe(true);
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as { Resources: Record<string, { Type: string }> };
    const stateMachines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    expect(stateMachines).toHaveLength(2);
  });

  it('names the stack after the pipeline: a second config writes a second stack, and -c stackName keeps another name', () => {
    // Prepare
    const config = { ...structuredClone(SATURDAY_PIPELINE), pipelineName: 'nightly-etl', code: join(PROJECT_ROOT, 'workloads', 'saturday') };
    const configFile = join(dir, 'nightly-etl.json');
    writeFileSync(configFile, JSON.stringify(config));

    // Act
    const second = synthApp({ pipelineConfig: configFile }, join(dir, 'second-out'));
    const renamed = synthApp({ stackName: 'SaturdaySpotPipeline' }, join(dir, 'renamed-out'));

    // Assess
    expect(second.status, second.stderr).toBe(0);
    expect(readdirSync(join(dir, 'second-out')).filter((f) => f.endsWith('.template.json'))).toEqual(['nightly-etl.template.json']);
    expect(renamed.status, renamed.stderr).toBe(0);
    expect(readdirSync(join(dir, 'renamed-out')).filter((f) => f.endsWith('.template.json'))).toEqual(['SaturdaySpotPipeline.template.json']);
  });
});
