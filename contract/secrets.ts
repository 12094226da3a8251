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
 * Names bash gives a meaning of its own, found by exporting a secret under each of bash's variables
 * as the runner does (test/contract/params-secrets.test.ts runs it): a readonly one fails the
 * export under `set -e` and the workload never starts (UID, SHELLOPTS ...); an arithmetic one
 * evaluates the value and prints it in the error (RANDOM, OPTIND ...); a dynamic one hands the
 * workload bash's value instead (_, BASHPID, SHLVL ...). BASH_* and LC_* are refused as a whole:
 * bash and the C library reject unexpected values aloud, printing them.
 */
const SHELL_SPECIAL_ENV = new Set([
  '_', 'BASH', 'BASHOPTS', 'BASHPID', 'UID', 'EUID', 'PPID', 'SHELLOPTS', 'RANDOM', 'SRANDOM', 'SECONDS', 'LINENO', 'HISTCMD', 'OPTIND', 'OPTERR',
  'EPOCHSECONDS', 'EPOCHREALTIME', 'FUNCNAME', 'GROUPS', 'DIRSTACK', 'PIPESTATUS', 'COMP_WORDBREAKS', 'OLDPWD', 'SHLVL', 'PS1', 'PS2', 'PS4',
]);
const SHELL_PREFIXES = ['BASH_', 'LC_'];
/** The runner's readonly variables (instance/pipeline-runner.sh): exporting a secret as one fails and the workload never starts. */
const RUNNER_ENV = new Set(['EXIT_INTEGRITY', 'EXIT_SECRET', 'EXIT_TOOL', 'EXIT_UPLOAD', 'EXIT_NO_INTERRUPTION', 'IMDS', 'POLL', 'STOP_SECONDS', 'GRACE_SECONDS', 'WORK_DIR', 'CHECKPOINT_DIR', 'OUTPUT_DIR', 'NOTICE_FLAG', 'SOURCE_DIR', 'SYNC_SECONDS', 'RETRY_SLEEP']);

/**
 * Parameter names: letters, digits and `_.-/`, at most 2048 characters, a leading slash for a
 * hierarchy (Systems Manager user guide, "Requirements and constraints for parameter names"); a
 * name, not only slashes ("ssm:/" names no parameter).
 * Secret names: letters, digits and `/_+=.@-`, at most 512 (Secrets Manager API reference, CreateSecret: Name).
 */
const SOURCES = {
  ssm: /^\/?[A-Za-z0-9_.-][A-Za-z0-9_.\-/]{0,2046}$/,
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
  if (SHELL_PREFIXES.some((prefix) => name.startsWith(prefix))) return 'must not start with BASH_ or LC_ (bash and the C library use those)';
  if (RESERVED_ENV.has(name) || SHELL_SPECIAL_ENV.has(name)) return `must not be ${name}, which the shell uses`;
  if (RUNNER_ENV.has(name)) return `must not be ${name}, which the on-instance runner uses (instance/pipeline-runner.sh)`;
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
