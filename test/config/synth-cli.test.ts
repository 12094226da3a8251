/**
 * The CDK app as `cdk synth` runs it: a bad config fails synth naming the phase and field; the
 * built-in config synthesizes a template. Two child processes, bundling skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';

const PROJECT_ROOT = resolve(__dirname, '..', '..');

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
    expect(result.status).not.toBeNull();
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('PredictorTraining');
    expect(result.stderr).toContain('budgetSeconds');
    expect(result.stderr).toContain('phases[2].budgetSeconds');
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
    const templateFile = join(outdir, 'SaturdaySpotPipeline.template.json');
    expect(existsSync(templateFile)).toBe(true);
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as { Resources: Record<string, { Type: string }> };
    const stateMachines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    expect(stateMachines).toHaveLength(2);
  });
});
