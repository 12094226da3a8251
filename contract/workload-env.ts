/**
 * The environment every workload sees (README, "Execution input"). Values come from the
 * execution, so each is checked against a strict pattern before it is single-quoted into the
 * script SSM runs.
 */
export const WORKLOAD_ENV_PATTERNS = {
  PIPELINE_NAME: /^[A-Za-z][A-Za-z0-9-]{0,39}$/,
  PIPELINE_PHASE: /^[A-Za-z][A-Za-z0-9]{0,39}$/,
  PIPELINE_ATTEMPT: /^[1-9][0-9]{0,2}$/,
  PIPELINE_EXECUTION: /^[A-Za-z0-9_.-]{1,80}$/,
  PIPELINE_RUN_DATE: /^\d{4}-\d{2}-\d{2}$/,
  PIPELINE_MODE: /^(full|preflight)$/,
} as const;

export type WorkloadEnv = { readonly [K in keyof typeof WORKLOAD_ENV_PATTERNS]: string };
