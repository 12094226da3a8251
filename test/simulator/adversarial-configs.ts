/**
 * The small pipelines the adversarial suites run (notice, wake tokens, data plane): short budgets,
 * 10-minute attempts, 10 s polls, no backoff, so combined faults meet within minutes; and their
 * deployment, each config written to a file (scenarios name it by a relative path, so the seeded
 * jitter replays) and synthesized once per suite.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { PhaseConfigInput, PipelineConfigInput } from '../../contract/config';
import { parsePipelineConfig } from '../../lib/config/load';
import { synthDeployment, type SimDeployment } from '../../simulator/synth';

/** A pipeline named `pipelineName` over these subnets, its phases on these instance types unless they say otherwise. */
export function adversarialPipelines(pipelineName: string, options: { subnetIds: string[]; instanceTypes: string[] }) {
  const phaseOf = (phase: Partial<PhaseConfigInput> & { name: string }): PhaseConfigInput => ({
    workloadCommand: '/opt/x.sh',
    instanceTypes: options.instanceTypes,
    budgetSeconds: 1500,
    attemptSeconds: 600,
    relaunchBackoffSeconds: 0,
    bootTimeoutSeconds: 240,
    pollIntervalSeconds: 10,
    silenceTimeoutSeconds: 300,
    ...phase,
  });
  const pipeline = (phases: PipelineConfigInput['phases'], extra: Partial<PipelineConfigInput> = {}): PipelineConfigInput => ({
    pipelineName,
    cleanupMarginSeconds: 60,
    vpcId: 'vpc-0c0ffee0c0ffee000',
    subnetIds: options.subnetIds,
    phases,
    ...extra,
  });
  return { phaseOf, pipeline };
}

/** Each config written to <dir>/<name>.json and synthesized, in a new temporary directory. */
export function deployConfigs<N extends string>(prefix: string, configs: Record<N, PipelineConfigInput>): { dir: string; files: Record<N, string>; deployments: Record<N, SimDeployment> } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const files = {} as Record<N, string>;
  const deployments = {} as Record<N, SimDeployment>;
  for (const [name, config] of Object.entries(configs) as [N, PipelineConfigInput][]) {
    files[name] = path.join(dir, `${name}.json`);
    writeFileSync(files[name], JSON.stringify(config));
    deployments[name] = synthDeployment(parsePipelineConfig(config));
  }
  return { dir, files, deployments };
}
