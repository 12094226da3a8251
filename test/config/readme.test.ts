import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { budgetTable } from '../../lib/config/budget-table';
import { loadPipelineConfig } from '../../lib/config/load';

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
