/** The README's budget table, generated from a config so the two cannot drift apart. */
import { affordableAttempts } from '../../contract/budget';
import { allPhases, type PipelineConfig } from '../../contract/config';

export function budgetTable(config: PipelineConfig): string {
  const rows = allPhases(config).map(
    (p) =>
      `| ${p.name} | ${p.budgetSeconds} | ${p.attemptSeconds} | ${p.maxAttempts ?? '(budget)'} | ${affordableAttempts(p, config.cleanupMarginSeconds)} | ${p.instanceTypes.join(', ')} |`,
  );
  return [
    '| phase | budgetSeconds | attemptSeconds | maxAttempts | attempts affordable (worst case) | instance types |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
