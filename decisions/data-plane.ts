/**
 * Where a phase's data lives, as the runner and the workload see it (contract/workload-env.ts,
 * DATA_ENV_PATTERNS): its outputs, the run's earlier outputs, its checkpoint (a full run only;
 * every attempt of the phase in one pipeline execution gets the same one), its code asset, the
 * artifacts it downloads, what it builds (a build stage) and its secrets. Pure.
 */
import type { PhaseSpec } from '../contract/config';
import type { RunContext } from '../contract/job';
import { parseSecretSource } from '../contract/secrets';
import { ArtifactMissing } from '../contract/errors';
import { checkpointPrefix, runOutputPrefix, runPrefix, sourceKey } from '../contract/storage';
import type { DataEnv } from '../contract/workload-env';

/** The artifacts a phase lists, as the runner downloads and verifies them: every one must be built by now. */
function artifactLines(phase: PhaseSpec, run: RunContext): string[] {
  return (phase.artifacts ?? []).flatMap((name) => {
    const ref = run.artifacts?.[name];
    if (ref?.sha256) return [`${name}|${ref.uri}|${ref.sha256}`];
    // A preflight builds nothing: it verifies the artifacts already built, and checks the rest no further.
    if (run.mode === 'preflight') return [];
    throw new ArtifactMissing(`phase ${phase.name} needs artifact ${name}, which no build stage of this run has recorded`);
  });
}

/** What a build stage's runner fetches and uploads (the version its CheckArtifact state chose). */
function buildEnv(bucket: string, phase: PhaseSpec, run: RunContext): DataEnv {
  // A build stage's preflight checks the instance (its tools: git, the compiler) but fetches and builds nothing.
  if (!phase.build || run.mode === 'preflight') return {};
  const ref = run.artifacts?.[phase.build.artifact];
  if (!ref) throw new ArtifactMissing(`build ${phase.name}: no version was chosen for ${phase.build.artifact} (its CheckArtifact state did not run)`);
  const { source } = phase.build;
  return {
    PIPELINE_BUILD_ARTIFACT_URI: ref.uri,
    PIPELINE_BUILD_VERSION: ref.version,
    PIPELINE_BUILD_OUTPUT: phase.build.output,
    ...('git' in source ? { PIPELINE_BUILD_GIT_URL: source.git.url } : { PIPELINE_BUILD_SOURCE_URI: `s3://${bucket}/${sourceKey(phase.pipelineName, source.s3.key)}` }),
  };
}

export function phaseDataEnv(bucket: string, phase: PhaseSpec, run: RunContext): DataEnv {
  const s3 = (key: string) => `s3://${bucket}/${key}`;
  const { shard } = phase;
  const artifacts = artifactLines(phase, run);
  const secrets = Object.entries(phase.secrets ?? {}).map(([env, source]) => {
    const parsed = parseSecretSource(source);
    if ('problem' in parsed) throw new Error(`phase ${phase.name}: secret ${env}: ${parsed.problem}`);
    return `${env}|${parsed.service}:${parsed.name}`;
  });
  return {
    PIPELINE_OUTPUT_URI: s3(runOutputPrefix(phase.pipelineName, run.runDate, run.pipelineExecution, phase.name, shard?.name)),
    PIPELINE_RUN_URI: s3(runPrefix(phase.pipelineName, run.runDate, run.pipelineExecution)),
    ...(run.mode === 'full' ? { PIPELINE_CHECKPOINT_URI: s3(checkpointPrefix(phase.pipelineName, run.runDate, run.pipelineExecution, phase.name, shard?.name)) } : {}),
    ...(shard ? { PIPELINE_SHARD: shard.name, PIPELINE_SHARD_INDEX: String(shard.index), PIPELINE_SHARD_COUNT: String(shard.count) } : {}),
    ...(phase.codeAsset ? { PIPELINE_CODE_URI: phase.codeAsset.uri, PIPELINE_CODE_SHA256: phase.codeAsset.sha256 } : {}),
    ...(secrets.length > 0 ? { PIPELINE_SECRETS: secrets.join('\n') } : {}),
    ...(phase.tools && phase.tools.length > 0 ? { PIPELINE_TOOLS: phase.tools.join(' ') } : {}),
    ...(artifacts.length > 0 ? { PIPELINE_ARTIFACTS: artifacts.join('\n') } : {}),
    ...buildEnv(bucket, phase, run),
  };
}
