/**
 * The example pipelines users copy from (examples/*.json): each loads, synthesizes, and has a
 * shipped scenario in scenarios/ that runs it (the scenario suite runs every shipped scenario and
 * requires each to keep every invariant).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { synthTemplate } from '../../simulator/synth';

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLES = readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.json'));
const SCENARIO_CONFIGS = readdirSync(path.join(ROOT, 'scenarios'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => (JSON.parse(readFileSync(path.join(ROOT, 'scenarios', f), 'utf8')) as { config?: string }).config)
  .filter((c): c is string => c !== undefined)
  .map((c) => path.basename(c));

describe.each(EXAMPLES)('examples/%s', (file) => {
  it('loads, synthesizes, and a shipped scenario runs it', () => {
    // Act
    const config = loadPipelineConfig(path.join(ROOT, 'examples', file));
    const template = synthTemplate(config);

    // Assess
    expect(Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine')).toHaveLength(2);
    expect(SCENARIO_CONFIGS).toContain(file);
  });
});

it('there are examples to check', () => {
  expect(EXAMPLES.length).toBeGreaterThanOrEqual(3);
});
