/**
 * The pure functions of contract/params.ts (a run's parameters, from their declarations and the
 * execution input) and contract/secrets.ts (secret names and sources), hostile inputs included;
 * and the secret names the contract accepts, exported as the on-instance runner exports them.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { paramEnvName, resolveParams, valueProblem, type ParamDeclaration, type ParamDeclarations } from '../../contract/params';
import { parseSecretSource, secretEnvProblem } from '../../contract/secrets';
import { PARAM_ENV_NAME } from '../../contract/workload-env';

const RUNNER = path.join(__dirname, '..', '..', 'instance', 'pipeline-runner.sh');

describe('paramEnvName', () => {
  it.each([
    ['lookbackDays', 'PIPELINE_PARAM_LOOKBACK_DAYS'],
    ['lookback_days', 'PIPELINE_PARAM_LOOKBACK_DAYS'],
    ['LookbackDays', 'PIPELINE_PARAM_LOOKBACK_DAYS'],
    ['universeSize', 'PIPELINE_PARAM_UNIVERSE_SIZE'],
    ['x', 'PIPELINE_PARAM_X'],
    ['top10Symbols', 'PIPELINE_PARAM_TOP10_SYMBOLS'],
    ['URLPath', 'PIPELINE_PARAM_URLPATH'],
    ['already_UPPER', 'PIPELINE_PARAM_ALREADY_UPPER'],
  ])('%s -> %s', (name, env) => {
    // Act
    const actual = paramEnvName(name);

    // Assess
    expect(actual).toBe(env);
  });

  it.each(['a', 'aA'.repeat(20), 'Aa'.repeat(20), 'a1'.repeat(20), 'a_'.repeat(20), 'Z'.repeat(40)])('the longest names still make a variable the workload env accepts: %s', (name) => {
    // Act
    const env = paramEnvName(name);

    // Assess
    expect(env).toMatch(PARAM_ENV_NAME);
  });
});

describe('valueProblem', () => {
  const string: ParamDeclaration = { type: 'string' };
  const integer: ParamDeclaration = { type: 'integer', min: 1, max: 365 };
  const number: ParamDeclaration = { type: 'number', min: -1, max: 1 };
  const boolean: ParamDeclaration = { type: 'boolean' };
  const universe: ParamDeclaration = { type: 'enum', values: ['sp500', 'russell2000'] };
  const pattern = (p: string): ParamDeclaration => ({ type: 'string', pattern: p });

  it.each<[string, ParamDeclaration, unknown]>([
    ['any text', string, 'hello world'],
    ['the empty string', string, ''],
    ['a tab', string, 'a\tb'],
    ['shell metacharacters (the value is quoted, never parsed)', string, `'; rm -rf / #$(id)\`id\``],
    ['text at the longest', string, 'x'.repeat(1024)],
    ['an integer at min', integer, 1],
    ['an integer at max', integer, 365],
    ['a number within bounds', number, 0.25],
    ['a negative number at min', number, -1],
    ['true', boolean, true],
    ['false', boolean, false],
    ['an enum value', universe, 'russell2000'],
    ['an alternation, anchored as a whole', pattern('a|b'), 'b'],
    ['dots and classes', pattern('[0-9]+\\.[0-9]+'), '1.5'],
    ['an already anchored pattern', pattern('^abc$'), 'abc'],
    ['a Unicode property (Unicode mode)', pattern('\\p{L}+'), 'héllo'],
    ['a pattern of regex metacharacters, escaped', pattern('\\$\\(\\)\\[\\]\\{\\}\\*\\+\\?\\.\\^\\|\\\\'), '$()[]{}*+?.^|\\'],
  ])('accepts %s', (_what, decl, value) => {
    // Act
    const problem = valueProblem(decl, value);

    // Assess
    expect(problem).toBeUndefined();
  });

  it.each<[string, ParamDeclaration, unknown, string]>([
    ['a number for a string', string, 42, 'must be a string'],
    ['a newline', string, 'a\nb', 'must not contain control characters'],
    ['a carriage return', string, 'a\rb', 'must not contain control characters'],
    ['a NUL', string, 'a\0b', 'must not contain control characters'],
    ['DEL', string, 'a\u007fb', 'must not contain control characters'],
    ['text too long', string, 'x'.repeat(1025), 'must be at most 1024 characters'],
    ['a string for an integer', integer, '5', 'must be a number'],
    ['a fraction for an integer', integer, 5.5, 'must be a whole number'],
    ['NaN', integer, NaN, 'must be a number'],
    ['Infinity', number, Infinity, 'must be a number'],
    ['an integer below min', integer, 0, 'must be >= 1'],
    ['an integer above max', integer, 366, 'must be <= 365'],
    ['a number above max', number, 1.0001, 'must be <= 1'],
    ['a boolean for a number', number, true, 'must be a number'],
    ['the string "true" for a boolean', boolean, 'true', 'must be true or false'],
    ['0 for a boolean', boolean, 0, 'must be true or false'],
    ['another case of an enum value', universe, 'SP500', 'must be one of "sp500", "russell2000"'],
    ['a number for an enum', universe, 500, 'must be one of "sp500", "russell2000"'],
    ['null', string, null, 'must be a string'],
    ['an object', integer, { valueOf: () => 5 }, 'must be a number'],
    ['a value matching only one side of an alternation (the pattern is anchored as a whole)', pattern('a|b'), 'ab', 'must match /a|b/'],
    ['a value with a prefix before an alternative', pattern('a|b'), 'xb', 'must match /a|b/'],
    ['any character where a dot is escaped', pattern('[0-9]+\\.[0-9]+'), '1x5', 'must match /[0-9]+\\.[0-9]+/'],
    ['a value ending in a newline a $ would let through without Unicode anchoring', pattern('abc'), 'abc\n', 'must not contain control characters'],
    ['a newline a .* would match on a line', pattern('.*'), 'ok\nrm -rf /', 'must not contain control characters'],
  ])('refuses %s', (_what, decl, value, message) => {
    // Act
    const problem = valueProblem(decl, value);

    // Assess
    expect(problem).toBe(message);
  });
});

describe('resolveParams', () => {
  const declared: ParamDeclarations = {
    lookbackDays: { type: 'integer', min: 1, max: 365, default: 30 },
    threshold: { type: 'number', default: 0.25 },
    label: { type: 'string', default: 'weekly' },
    dryRun: { type: 'boolean', default: false },
    universe: { type: 'enum', values: ['sp500', 'russell2000'], default: 'sp500' },
  };
  const defaults = {
    PIPELINE_PARAM_LOOKBACK_DAYS: '30',
    PIPELINE_PARAM_THRESHOLD: '0.25',
    PIPELINE_PARAM_LABEL: 'weekly',
    PIPELINE_PARAM_DRY_RUN: 'false',
    PIPELINE_PARAM_UNIVERSE: 'sp500',
  };

  it.each([
    ['no params', undefined],
    ['empty params', {}],
  ])('%s: every default, as text under its variable', (_what, given) => {
    // Act
    const resolved = resolveParams(declared, given);

    // Assess
    expect(resolved).toEqual({ env: defaults });
  });

  it('given values replace the defaults, each as text', () => {
    // Prepare
    const given = { lookbackDays: 7, threshold: -0.5, label: "it's a $(test)", dryRun: true, universe: 'russell2000' };

    // Act
    const resolved = resolveParams(declared, given);

    // Assess
    expect(resolved).toEqual({
      env: {
        PIPELINE_PARAM_LOOKBACK_DAYS: '7',
        PIPELINE_PARAM_THRESHOLD: '-0.5',
        PIPELINE_PARAM_LABEL: "it's a $(test)",
        PIPELINE_PARAM_DRY_RUN: 'true',
        PIPELINE_PARAM_UNIVERSE: 'russell2000',
      },
    });
  });

  it('declaring none and given none: no variables', () => {
    // Act
    const resolved = resolveParams({}, undefined);

    // Assess
    expect(resolved).toEqual({ env: {} });
  });

  it.each([
    ['null', null],
    ['a list', [1, 2]],
    ['a string', '{"lookbackDays": 7}'],
    ['a number', 7],
  ])('refuses params that are %s', (_what, given) => {
    // Act
    const resolved = resolveParams(declared, given);

    // Assess
    expect(resolved).toEqual({ problems: ['params: must be a JSON object'] });
  });

  it.each<[string, ParamDeclarations, unknown, string[]]>([
    ['an undeclared parameter', declared, { lookback: 7 }, ['params.lookback: not a declared parameter (declared: lookbackDays, threshold, label, dryRun, universe)']],
    ['any parameter where none is declared', {}, { lookbackDays: 7 }, ['params.lookbackDays: not a declared parameter (the pipeline declares none)']],
    ['a missing parameter without a default', { since: { type: 'string' } }, {}, ['params.since: is required (string; it has no default)']],
    ['a value out of bounds', declared, { lookbackDays: 400 }, ['params.lookbackDays: must be <= 365']],
    ['a value with a newline', declared, { label: 'line1\nline2' }, ['params.label: must not contain control characters']],
    ['a value with a NUL', declared, { label: 'a\u0000b' }, ['params.label: must not contain control characters']],
    ['a number as a string', declared, { lookbackDays: '7' }, ['params.lookbackDays: must be a number']],
    ['null for a parameter with a default (null is a value, not an absence)', declared, { dryRun: null }, ['params.dryRun: must be true or false']],
    [
      'several problems at once, each naming its field',
      declared,
      { lookbackDays: 0, universe: 'nasdaq', extra: 1 },
      ['params.extra: not a declared parameter (declared: lookbackDays, threshold, label, dryRun, universe)', 'params.lookbackDays: must be >= 1', 'params.universe: must be one of "sp500", "russell2000"'],
    ],
  ])('refuses %s', (_what, decl, given, problems) => {
    // Act
    const resolved = resolveParams(decl, given);

    // Assess
    expect(resolved).toEqual({ problems });
  });

  it('a "__proto__" key of the execution input (JSON.parse makes it an own key) is undeclared and pollutes nothing', () => {
    // Prepare
    const given: unknown = JSON.parse('{"__proto__": {"lookbackDays": 999, "polluted": true}, "label": "x"}');

    // Act
    const resolved = resolveParams(declared, given);

    // Assess
    expect(resolved).toEqual({ problems: [expect.stringMatching(/^params\.__proto__: not a declared parameter/)] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).lookbackDays).toBeUndefined();
    expect(Object.getPrototypeOf(given)).toBe(Object.prototype);
  });

  it('reads only own keys of the input: inherited values are not given values', () => {
    // Prepare
    const given = Object.create({ lookbackDays: 999, label: 'inherited' }) as object;

    // Act
    const resolved = resolveParams(declared, given);

    // Assess
    expect(resolved).toEqual({ env: defaults });
  });

  it('declared names that are also Object.prototype members are read from the input\'s own keys only', () => {
    // Prepare
    const entries: [string, ParamDeclaration][] = [['constructor', { type: 'string', default: 'ctor' }], ['toString', { type: 'integer' }], ['hasOwnProperty', { type: 'boolean', default: true }]];
    const decl: ParamDeclarations = Object.fromEntries(entries);

    // Act
    const missing = resolveParams(decl, {});
    const given = resolveParams(decl, { toString: 3 });

    // Assess
    expect(missing).toEqual({ problems: ['params.toString: is required (integer; it has no default)'] });
    expect(given).toEqual({ env: { PIPELINE_PARAM_CONSTRUCTOR: 'ctor', PIPELINE_PARAM_TO_STRING: '3', PIPELINE_PARAM_HAS_OWN_PROPERTY: 'true' } });
  });

  it('a key of hostile text is refused as undeclared, one problem for it', () => {
    // Prepare
    const given = { 'x\nparams.lookbackDays: fine': 1, 'y\u0000': 2 };

    // Act
    const resolved = resolveParams(declared, given);

    // Assess
    expect('problems' in resolved && resolved.problems).toHaveLength(2);
    expect('problems' in resolved && resolved.problems.every((p) => p.startsWith('params.') && p.endsWith('(declared: lookbackDays, threshold, label, dryRun, universe)'))).toBe(true);
  });

  it('every variable it makes is one the workload env accepts, on a plain object', () => {
    // Act
    const resolved = resolveParams(declared, { label: 'x' });

    // Assess
    if (!('env' in resolved)) throw new Error('expected the params to resolve');
    expect(Object.getPrototypeOf(resolved.env)).toBe(Object.prototype);
    for (const name of Object.keys(resolved.env)) expect(name).toMatch(PARAM_ENV_NAME);
  });
});

describe('parseSecretSource', () => {
  it.each([
    ['ssm:/alpha/db-password', { service: 'ssm', name: '/alpha/db-password' }],
    ['ssm:alpha.db_password', { service: 'ssm', name: 'alpha.db_password' }],
    ['ssm:/a', { service: 'ssm', name: '/a' }],
    [`ssm:/${'a'.repeat(2047)}`, { service: 'ssm', name: `/${'a'.repeat(2047)}` }],
    [`ssm:${'a'.repeat(2047)}`, { service: 'ssm', name: 'a'.repeat(2047) }],
    ['secretsmanager:alpha/api-key', { service: 'secretsmanager', name: 'alpha/api-key' }],
    ['secretsmanager:team+x=y@z.w_v-1', { service: 'secretsmanager', name: 'team+x=y@z.w_v-1' }],
    [`secretsmanager:${'s'.repeat(512)}`, { service: 'secretsmanager', name: 's'.repeat(512) }],
  ])('%s is a source', (text, source) => {
    // Act
    const parsed = parseSecretSource(text);

    // Assess
    expect(parsed).toEqual(source);
  });

  const NOT_A_SOURCE = 'must be "ssm:/parameter/name" or "secretsmanager:secret-name"';
  const BAD_PARAMETER = 'the parameter name must hold only letters, digits and _ . - / (at most 2048 characters)';
  const BAD_SECRET = 'the secret name must hold only letters, digits and / _ + = . @ - (at most 512 characters; name the secret, not its ARN)';

  it.each([
    ['', NOT_A_SOURCE],
    ['/alpha/db-password', NOT_A_SOURCE],
    ['vault:/alpha/db-password', NOT_A_SOURCE],
    ['SSM:/alpha/db-password', NOT_A_SOURCE],
    ['arn:aws:ssm:us-east-1:123456789012:parameter/alpha/db-password', NOT_A_SOURCE],
    ['arn:aws:secretsmanager:us-east-1:123456789012:secret:alpha/api-key-AbCdEf', NOT_A_SOURCE],
    ['__proto__:x', NOT_A_SOURCE],
    ['constructor:x', NOT_A_SOURCE],
    ['hasOwnProperty:x', NOT_A_SOURCE],
    ['toString:x', NOT_A_SOURCE],
    ['ssm:', BAD_PARAMETER],
    ['ssm:/', BAD_PARAMETER],
    ['ssm://alpha', BAD_PARAMETER],
    ['ssm:/alpha db', BAD_PARAMETER],
    ['ssm:/alpha/*', BAD_PARAMETER],
    ['ssm:/alpha:1', BAD_PARAMETER],
    ['ssm:arn:aws:ssm:us-east-1:123456789012:parameter/alpha/db-password', BAD_PARAMETER],
    ['ssm:/alpha\nAPI_KEY|ssm:/other', BAD_PARAMETER],
    ['ssm:/alpha\0', BAD_PARAMETER],
    ['ssm:/alpha|x', BAD_PARAMETER],
    ['ssm:/alpha$(id)', BAD_PARAMETER],
    [`ssm:/${'a'.repeat(2048)}`, BAD_PARAMETER],
    [`ssm:${'a'.repeat(2048)}`, BAD_PARAMETER],
    ['secretsmanager:', BAD_SECRET],
    ['secretsmanager:alpha/*', BAD_SECRET],
    ['secretsmanager:alpha?', BAD_SECRET],
    ['secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:alpha/api-key-AbCdEf', BAD_SECRET],
    ['secretsmanager:alpha\nAPI_KEY|ssm:/other', BAD_SECRET],
    [`secretsmanager:${'s'.repeat(513)}`, BAD_SECRET],
  ])('%j is refused', (text, problem) => {
    // Act
    const parsed = parseSecretSource(text);

    // Assess
    expect(parsed).toEqual({ problem });
  });
});

describe('secretEnvProblem', () => {
  it.each(['DB_PASSWORD', 'API_KEY', 'A', 'X1', '_TOKEN', 'TOKEN_', 'A'.repeat(64), 'PIPELINEX', 'AWSKEY', 'PATH2', 'MY_PATH', 'LOCAL_LC_ALL'])('accepts %s', (name) => {
    // Act
    const problem = secretEnvProblem(name);

    // Assess
    expect(problem).toBeUndefined();
  });

  const NOT_A_NAME = 'must be an environment variable name in upper snake case (A-Z, 0-9, _; at most 64)';
  const PIPELINE_OR_AWS = 'must not start with PIPELINE_ or AWS_ (the pipeline and the AWS CLI use those)';
  const BASH_OR_LC = 'must not start with BASH_ or LC_ (bash and the C library use those)';

  it.each([
    ['', NOT_A_NAME],
    ['db_password', NOT_A_NAME],
    ['Db_PASSWORD', NOT_A_NAME],
    ['1PASSWORD', NOT_A_NAME],
    ['DB-PASSWORD', NOT_A_NAME],
    ['DB PASSWORD', NOT_A_NAME],
    ['DB_PASSWORD\n', NOT_A_NAME],
    ['DB_PASSWORD=x', NOT_A_NAME],
    ['A'.repeat(65), NOT_A_NAME],
    ['__proto__', NOT_A_NAME],
    ['PIPELINE_', PIPELINE_OR_AWS],
    ['PIPELINE_PARAM_LOOKBACK_DAYS', PIPELINE_OR_AWS],
    ['AWS_ACCESS_KEY_ID', PIPELINE_OR_AWS],
    ['AWS_PROFILE', PIPELINE_OR_AWS],
    ['BASH_ENV', BASH_OR_LC],
    ['BASH_XTRACEFD', BASH_OR_LC],
    ['BASH_COMPAT', BASH_OR_LC],
    ['LC_ALL', BASH_OR_LC],
    ['PATH', 'must not be PATH, which the shell uses'],
    ['HOME', 'must not be HOME, which the shell uses'],
    ['IFS', 'must not be IFS, which the shell uses'],
    ['ENV', 'must not be ENV, which the shell uses'],
    ['LD_PRELOAD', 'must not be LD_PRELOAD, which the shell uses'],
    ['_', 'must not be _, which the shell uses'],
    ['UID', 'must not be UID, which the shell uses'],
    ['SHELLOPTS', 'must not be SHELLOPTS, which the shell uses'],
    ['RANDOM', 'must not be RANDOM, which the shell uses'],
    ['SECONDS', 'must not be SECONDS, which the shell uses'],
    ['PS4', 'must not be PS4, which the shell uses'],
    ['WORK_DIR', 'must not be WORK_DIR, which the on-instance runner uses (instance/pipeline-runner.sh)'],
    ['OUTPUT_DIR', 'must not be OUTPUT_DIR, which the on-instance runner uses (instance/pipeline-runner.sh)'],
  ])('refuses %j', (name, problem) => {
    // Act
    const actual = secretEnvProblem(name);

    // Assess
    expect(actual).toBe(problem);
  });
});

describe('secret names, exported as the runner exports them', () => {
  const runner = readFileSync(RUNNER, 'utf8');
  /** The runner's readonly declarations, and the line that exports the secrets in the workload's subshell. */
  const readonlyLines = runner.split('\n').filter((line) => line.startsWith('readonly '));
  const exportLine = runner.split('\n').find((line) => line.includes('export "${assignment?}"'));
  const runnerNames = readonlyLines.flatMap((line) => [...line.matchAll(/(?:^readonly|\s)([A-Z_][A-Z0-9_]*)=/g)].map((m) => m[1]!));

  /** Every variable bash documents (bash manual, "Shell Variables"), plus ordinary names the probe must pass. */
  const BASH_VARIABLES = (
    '_ BASH BASHOPTS BASHPID BASH_ALIASES BASH_ARGC BASH_ARGV BASH_ARGV0 BASH_CMDS BASH_COMMAND BASH_COMPAT BASH_ENV BASH_EXECUTION_STRING ' +
    'BASH_LINENO BASH_LOADABLES_PATH BASH_MONOSECONDS BASH_REMATCH BASH_SOURCE BASH_SUBSHELL BASH_TRAPSIG BASH_VERSINFO BASH_VERSION BASH_XTRACEFD ' +
    'CDPATH CHILD_MAX COLUMNS COMP_CWORD COMP_KEY COMP_LINE COMP_POINT COMP_TYPE COMP_WORDBREAKS COMP_WORDS COMPREPLY COPROC DIRSTACK EMACS ENV ' +
    'EPOCHREALTIME EPOCHSECONDS EUID EXECIGNORE FCEDIT FIGNORE FUNCNAME FUNCNEST GLOBIGNORE GLOBSORT GROUPS HISTCMD HISTCONTROL HISTFILE ' +
    'HISTFILESIZE HISTIGNORE HISTSIZE HISTTIMEFORMAT HOME HOSTFILE HOSTNAME HOSTTYPE IFS IGNOREEOF INPUTRC INSIDE_EMACS LANG LC_ALL LC_COLLATE ' +
    'LC_CTYPE LC_MESSAGES LC_NUMERIC LC_TIME LINENO LINES MACHTYPE MAIL MAILCHECK MAILPATH MAPFILE OLDPWD OPTARG OPTERR OPTIND OSTYPE PATH ' +
    'PIPESTATUS POSIXLY_CORRECT PPID PROMPT_COMMAND PROMPT_DIRTRIM PS0 PS1 PS2 PS3 PS4 PWD RANDOM READLINE_ARGUMENT READLINE_LINE READLINE_MARK ' +
    'READLINE_POINT REPLY SECONDS SHELL SHELLOPTS SHLVL SRANDOM TIMEFORMAT TMOUT TMPDIR UID LD_PRELOAD LD_LIBRARY_PATH DB_PASSWORD API_KEY'
  ).split(' ');

  it('the runner still declares readonly variables and exports the secrets in one loop', () => {
    // Assess
    expect(runnerNames).toEqual(expect.arrayContaining(['WORK_DIR', 'OUTPUT_DIR', 'CHECKPOINT_DIR', 'IMDS']));
    expect(exportLine).toBeDefined();
  });

  it('every readonly variable of the runner is refused as a secret name', () => {
    // Act
    const accepted = runnerNames.filter((name) => secretEnvProblem(name) === undefined);

    // Assess
    expect(accepted).toEqual([]);
  });

  it('every name the contract accepts reaches the workload with its value, and nothing is printed', () => {
    // Prepare
    const accepted = [...new Set([...BASH_VARIABLES, ...runnerNames])].filter((name) => secretEnvProblem(name) === undefined);
    const value = 's3cret value;$(id)';
    const probe = [
      'set -euo pipefail',
      ...readonlyLines,
      'for name in "$@"; do',
      '  secret_env=("$name=$SECRET_VALUE")',
      `  got="$( (${exportLine!.trim()}; exec bash -c 'printf "%s|" "\${!1-UNSET}"; printenv "$1" || echo NOENV' workload "$name") 2>&1)" || got="FAILED: $got"`,
      '  printf "%s\\t%s\\0" "$name" "$got"',
      'done',
    ].join('\n');

    // Act
    const run = spawnSync('bash', ['-c', probe, 'probe', ...accepted], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SECRET_VALUE: value } });
    const results = run.stdout.split('\0').filter(Boolean).map((entry) => entry.split('\t') as [string, string]);

    // Assess
    expect(run.status).toBe(0);
    expect(accepted).toEqual(expect.arrayContaining(['DB_PASSWORD', 'API_KEY']));
    expect(results.map(([name]) => name)).toEqual(accepted);
    expect(results.filter(([, got]) => got !== `${value}|${value}`)).toEqual([]);
  });
});
