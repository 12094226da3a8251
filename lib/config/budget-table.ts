/** The README's budget table, generated from a config so the two cannot drift apart. */
import { affordableAttempts } from '../../contract/budget';
import { allPhases, phaseWaits, type PhaseConfig, type PipelineConfig } from '../../contract/config';

/** The poll interval a phase runs with, and what was configured when its budget raised it. */
function pollInterval(phase: PhaseConfig): string {
  const effective = phaseWaits(phase).pollIntervalSeconds;
  return effective === phase.pollIntervalSeconds ? `${effective}` : `${effective} (configured ${phase.pollIntervalSeconds})`;
}

export function budgetTable(config: PipelineConfig): string {
  const rows = allPhases(config).map(
    (p) =>
      `| ${p.name} | ${p.budgetSeconds} | ${p.attemptSeconds} | ${p.maxAttempts ?? '(budget)'} | ` +
      `${affordableAttempts({ ...p, ...phaseWaits(p) }, config.cleanupMarginSeconds)} | ${pollInterval(p)} | ${p.instanceTypes.join(', ')} |`,
  );
  return [
    '| phase | budgetSeconds | attemptSeconds | maxAttempts | attempts affordable (worst case) | polls every (s) | instance types |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
