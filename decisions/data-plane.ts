/**
 * Where a phase's data lives, as the runner and the workload see it (contract/workload-env.ts,
 * DATA_ENV_PATTERNS): its outputs, the run's earlier outputs, its checkpoint (a full run only;
 * every attempt of the phase in one pipeline execution gets the same one), its code asset and its
 * secrets. Pure.
 */
import type { PhaseSpec } from '../contract/config';
import type { RunContext } from '../contract/job';
import { parseSecretSource } from '../contract/secrets';
import { checkpointPrefix, runOutputPrefix, runPrefix } from '../contract/storage';
import type { DataEnv } from '../contract/workload-env';

export function phaseDataEnv(bucket: string, phase: PhaseSpec, run: RunContext): DataEnv {
  const s3 = (key: string) => `s3://${bucket}/${key}`;
  const secrets = Object.entries(phase.secrets ?? {}).map(([env, source]) => {
    const parsed = parseSecretSource(source);
    if ('problem' in parsed) throw new Error(`phase ${phase.name}: secret ${env}: ${parsed.problem}`);
    return `${env}|${parsed.service}:${parsed.name}`;
  });
  return {
    PIPELINE_OUTPUT_URI: s3(runOutputPrefix(phase.pipelineName, run.runDate, run.pipelineExecution, phase.name)),
    PIPELINE_RUN_URI: s3(runPrefix(phase.pipelineName, run.runDate, run.pipelineExecution)),
    ...(run.mode === 'full' ? { PIPELINE_CHECKPOINT_URI: s3(checkpointPrefix(phase.pipelineName, run.runDate, run.pipelineExecution, phase.name)) } : {}),
    ...(phase.codeAsset ? { PIPELINE_CODE_URI: phase.codeAsset.uri, PIPELINE_CODE_SHA256: phase.codeAsset.sha256 } : {}),
    ...(secrets.length > 0 ? { PIPELINE_SECRETS: secrets.join('\n') } : {}),
    ...(phase.tools && phase.tools.length > 0 ? { PIPELINE_TOOLS: phase.tools.join(' ') } : {}),
  };
}
