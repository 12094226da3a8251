import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { budgetTable } from '../../lib/config/budget-table';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { loadPipelineConfig, parsePipelineConfig } from '../../lib/config/load';

describe('README', () => {
  it('shows the attempts each default phase affords, as the config computes them', () => {
    // Prepare
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const shown = readme.split('<!-- budget-table:start -->')[1]?.split('<!-- budget-table:end -->')[0]?.trim();

    // Act
    const computed = budgetTable(loadPipelineConfig());

    // Assess
    expect(shown).toBe(computed);
  });
});

describe('budget table', () => {
  it('shows the poll interval a phase runs with, and the configured one when its budget raised it', () => {
    // Prepare
    const long = { name: 'Long', workloadCommand: 'run', instanceTypes: ['c5.large'], budgetSeconds: 172800, attemptSeconds: 3600, pollIntervalSeconds: 10 };
    const config = parsePipelineConfig({ ...SATURDAY_PIPELINE, phases: [SATURDAY_PIPELINE.phases[0]!, long] });

    // Act
    const rows = budgetTable(config).split('\n').slice(2);

    // Assess
    expect(rows).toEqual([
      '| DataPhase1 | 5400 | 2400 | (budget) | 2 | 60 | c5.large, c5a.large, m5.large |',
      '| Long | 172800 | 3600 | (budget) | 39 | 109 (configured 10) | c5.large |',
    ]);
  });
});
