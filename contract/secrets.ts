/**
 * Secrets a phase declares: environment variable -> where its value lives. The runner resolves
 * them on the instance into the workload's environment only (never into the command text, never
 * printed), and the phase's instance role may read exactly these and no others.
 *
 *   "DB_PASSWORD": "ssm:/alpha/db-password"          SSM Parameter Store (SecureString or String)
 *   "API_KEY":     "secretsmanager:alpha/api-key"   Secrets Manager, by name (its SecretString)
 */

/** An environment variable a secret may become: upper snake case, none the pipeline or the shell own. */
export const SECRET_ENV_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;
const RESERVED_ENV = new Set(['PATH', 'HOME', 'USER', 'SHELL', 'PWD', 'IFS', 'LANG', 'TMPDIR', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'BASH_ENV', 'ENV']);

/**
 * Parameter names: letters, digits and `_.-/`, at most 2048 characters, a leading slash for a
 * hierarchy (Systems Manager user guide, "Requirements and constraints for parameter names").
 * Secret names: letters, digits and `/_+=.@-`, at most 512 (Secrets Manager API reference, CreateSecret: Name).
 */
const SOURCES = {
  ssm: /^\/?[A-Za-z0-9_.\-/]{1,2047}$/,
  secretsmanager: /^[A-Za-z0-9/_+=.@-]{1,512}$/,
} as const;
export type SecretService = keyof typeof SOURCES;

export interface SecretSource {
  readonly service: SecretService;
  /** The parameter or secret name, as the source names it. */
  readonly name: string;
}

/** Why a variable name cannot hold a secret, or undefined. */
export function secretEnvProblem(name: string): string | undefined {
  if (!SECRET_ENV_NAME.test(name)) return 'must be an environment variable name in upper snake case (A-Z, 0-9, _; at most 64)';
  if (name.startsWith('PIPELINE_') || name.startsWith('AWS_')) return 'must not start with PIPELINE_ or AWS_ (the pipeline and the AWS CLI use those)';
  if (RESERVED_ENV.has(name)) return `must not be ${name}, which the shell uses`;
  return undefined;
}

/** The source of "ssm:/name" or "secretsmanager:name", or the problem with it. */
export function parseSecretSource(text: string): SecretSource | { problem: string } {
  const colon = text.indexOf(':');
  const service = text.slice(0, colon);
  const name = text.slice(colon + 1);
  if (colon < 0 || !Object.hasOwn(SOURCES, service)) return { problem: 'must be "ssm:/parameter/name" or "secretsmanager:secret-name"' };
  if (!SOURCES[service as SecretService].test(name)) {
    return {
      problem:
        service === 'ssm'
          ? 'the parameter name must hold only letters, digits and _ . - / (at most 2048 characters)'
          : 'the secret name must hold only letters, digits and / _ + = . @ - (at most 512 characters; name the secret, not its ARN)',
    };
  }
  return { service: service as SecretService, name };
}
