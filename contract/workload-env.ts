/**
 * The environment every workload sees (README, "Writing a workload"). Values come from the
 * execution and the stack, so each is checked against a strict pattern before it is
 * single-quoted into the script SSM runs.
 */
import { paramEnvName } from './params';

export const WORKLOAD_ENV_PATTERNS = {
  PIPELINE_NAME: /^[A-Za-z][A-Za-z0-9-]{0,39}$/,
  PIPELINE_PHASE: /^[A-Za-z][A-Za-z0-9]{0,39}$/,
  PIPELINE_ATTEMPT: /^[1-9][0-9]{0,2}$/,
  PIPELINE_EXECUTION: /^[A-Za-z0-9_.-]{1,80}$/,
  PIPELINE_RUN_DATE: /^\d{4}-\d{2}-\d{2}$/,
  PIPELINE_MODE: /^(full|preflight)$/,
} as const;

export type WorkloadEnv = { readonly [K in keyof typeof WORKLOAD_ENV_PATTERNS]: string };

/** An s3:// URI of the pipeline bucket or the CDK assets bucket: a bucket name, then a key of safe characters. */
const S3_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[A-Za-z0-9_.=/-]{1,900}$/;

/**
 * The data plane's part (issue 10), for the runner (instance/pipeline-runner.sh) and the workload:
 * where outputs and the checkpoint go, where the run's earlier outputs are, the code asset and its
 * sha256, the artifacts to download and verify ("name|s3://uri|sha256" lines), what a build stage
 * builds (its source, version, output file and where the artifact goes), the tools the phase
 * declares (space-separated), and the secrets to resolve ("VAR|ssm:/name" lines; names only,
 * never values).
 */
export const DATA_ENV_PATTERNS = {
  PIPELINE_OUTPUT_URI: S3_URI,
  PIPELINE_RUN_URI: S3_URI,
  PIPELINE_CHECKPOINT_URI: S3_URI,
  PIPELINE_CODE_URI: S3_URI,
  PIPELINE_CODE_SHA256: /^[0-9a-f]{64}$/,
  PIPELINE_ARTIFACTS: /^[a-z][a-z0-9_]{0,39}\|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[A-Za-z0-9_.=/-]{1,900}\|[0-9a-f]{64}(\n[a-z][a-z0-9_]{0,39}\|s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[A-Za-z0-9_.=/-]{1,900}\|[0-9a-f]{64})*$/,
  PIPELINE_BUILD_ARTIFACT_URI: S3_URI,
  PIPELINE_BUILD_VERSION: /^[A-Za-z0-9._-]{1,128}$/,
  PIPELINE_BUILD_OUTPUT: /^[A-Za-z0-9._/-]{1,500}$/,
  PIPELINE_BUILD_GIT_URL: /^(https:\/\/|ssh:\/\/|git@)[A-Za-z0-9._~:/?#@!$&()*+,;=%-]{3,500}$/,
  PIPELINE_BUILD_SOURCE_URI: S3_URI,
  PIPELINE_TOOLS: /^[A-Za-z0-9._+-]{1,64}( [A-Za-z0-9._+-]{1,64})*$/,
  /** The shard of a sharded phase (config `shards`): its name, its 0-based place in the list, and how many shards the phase has. */
  PIPELINE_SHARD: /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/,
  PIPELINE_SHARD_INDEX: /^(0|[1-9][0-9]{0,2})$/,
  PIPELINE_SHARD_COUNT: /^[1-9][0-9]{0,2}$/,
  PIPELINE_SECRETS: /^[A-Z_][A-Z0-9_]*\|(ssm:|secretsmanager:)[A-Za-z0-9/_+=.@-]+(\n[A-Z_][A-Z0-9_]*\|(ssm:|secretsmanager:)[A-Za-z0-9/_+=.@-]+)*$/,
} as const;

export type DataEnv = { readonly [K in keyof typeof DATA_ENV_PATTERNS]?: string };

/** A parameter's environment variable (contract/params.ts); its value is any text without NUL. */
export const PARAM_ENV_NAME = new RegExp(`^${paramEnvName('x').slice(0, -1)}[A-Z0-9_]{1,60}$`);
