/**
 * The `build` stage kind in the config (seed 002): the example loads, a git source at a commit
 * and an S3 source archive are accepted, and every bad build is refused naming the field: the
 * source's commit, its commit parameter, the artifact's name, the output path, phases that list
 * an artifact no earlier build makes, an artifact built twice, and state names that collide.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPhases, buildPhase, buildStages, buildStateNames, STAGE_KINDS, type BuildStage, type PipelineConfigInput } from '../../contract/config';
import { loadPipelineConfig, parsePipelineConfig } from '../../lib/config/load';
import { refusal } from './refusal';

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'build-once.json');
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const GIT_URL = 'https://github.com/AlloyTools/org.alloytools.alloy.git';

type RawStage = Record<string, unknown>;
type RawConfig = Omit<PipelineConfigInput, 'phases'> & { phases: RawStage[] };

const phase = (name: string, extra: RawStage = {}): RawStage => ({ name, workloadCommand: 'run.sh', instanceTypes: ['c5.large'], budgetSeconds: 3600, attemptSeconds: 1200, ...extra });
const build = (name: string, artifact: string, extra: RawStage = {}): RawStage => ({
  kind: 'build',
  name,
  artifact,
  source: { git: { url: GIT_URL, commit: COMMIT } },
  buildCommand: 'make dist',
  output: 'dist/app.jar',
  instanceTypes: ['c5.xlarge'],
  budgetSeconds: 3600,
  attemptSeconds: 1800,
  ...extra,
});

/** A pipeline of `stages` with the example's run parameters (a string `commit`, an integer `shards`), schedules off. */
const pipeline = (...stages: RawStage[]): RawConfig => ({
  pipelineName: 'moolloy-runs',
  params: {
    commit: { type: 'string', pattern: '[0-9a-f]{40}' },
    shards: { type: 'integer', min: 1, max: 8, default: 2 },
    flavour: { type: 'enum', values: [COMMIT], default: COMMIT },
  },
  schedules: { enabled: false },
  phases: stages,
});

/** A pipeline with one build of `moolloy` (edited by `edit`) and a phase that uses it. */
const withBuild = (edit: (b: RawStage) => void = () => {}): RawConfig => {
  const b = build('BuildMoolloy', 'moolloy');
  edit(b);
  return pipeline(b, phase('RunWorker', { artifacts: ['moolloy'] }));
};

describe('build stages accepted', () => {
  it('examples/build-once.json loads: a build of moolloy at the run\'s commit, then two workers that use it', () => {
    // Act
    const config = loadPipelineConfig(EXAMPLE);

    // Assess
    expect(config.phases.map((s) => s.kind)).toEqual(['build', 'parallel']);
    const [moolloy] = buildStages(config);
    expect(moolloy).toMatchObject({
      name: 'BuildMoolloy',
      artifact: 'moolloy',
      source: { git: { url: GIT_URL, commitParam: 'commit' } },
      buildCommand: 'ant deps configure dist',
      output: 'dist/moolloy.jar',
      tools: ['java', 'ant'],
    });
    expect(allPhases(config).map((p) => [p.name, p.artifacts])).toEqual([
      ['BuildMoolloy', undefined],
      ['RunWorkerA', ['moolloy']],
      ['RunWorkerB', ['moolloy']],
    ]);
    expect(config.code).toBe(path.join(path.dirname(EXAMPLE), 'build-once'));
  });

  it('a build runs as a phase whose workload is its build command (defaults filled, nothing of the build left over)', () => {
    // Prepare
    const config = loadPipelineConfig(EXAMPLE);

    // Act
    const asPhase = buildPhase(buildStages(config)[0]!);

    // Assess
    expect(asPhase).toMatchObject({ name: 'BuildMoolloy', workloadCommand: 'ant deps configure dist', pollIntervalSeconds: 60, bootTimeoutSeconds: 600 });
    for (const key of ['kind', 'artifact', 'source', 'buildCommand', 'output']) expect(asPhase).not.toHaveProperty(key);
  });

  it('a git source at a commit written in the config, and phases of a later parallel group using it', () => {
    // Prepare
    const raw = pipeline(build('BuildApp', 'app'), { parallel: [phase('A', { artifacts: ['app'] }), phase('B')] }, phase('C', { artifacts: ['app'] }));

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect((config.phases[0] as BuildStage).source).toEqual({ git: { url: GIT_URL, commit: COMMIT } });
    expect(allPhases(config).map((p) => p.name)).toEqual(['BuildApp', 'A', 'B', 'C']);
  });

  it('an S3 source archive, a 64-hex commit, ssh and git@ URLs, and a build that uses an earlier build\'s artifact', () => {
    // Prepare
    const raw = pipeline(
      build('BuildLib', 'lib', { source: { s3: { key: 'lib/src-2026.05.tar.gz' } } }),
      build('BuildApp', 'app_v2', { source: { git: { url: 'ssh://git@example.com/team/app.git', commit: 'c'.repeat(64) } }, artifacts: ['lib'] }),
      build('BuildTool', 'tool', { source: { git: { url: 'git@github.com:team/tool.git', commitParam: 'commit' } } }),
      phase('Run', { artifacts: ['app_v2', 'lib', 'tool'] }),
    );

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(buildStages(config).map((b) => [b.artifact, b.source])).toEqual([
      ['lib', { s3: { key: 'lib/src-2026.05.tar.gz' } }],
      ['app_v2', { git: { url: 'ssh://git@example.com/team/app.git', commit: 'c'.repeat(64) } }],
      ['tool', { git: { url: 'git@github.com:team/tool.git', commitParam: 'commit' } }],
    ]);
  });

  it('names its states after the build: Check<name>, <name>Present?, <name>AlreadyBuilt, Record<name>', () => {
    // Act
    const names = buildStateNames('BuildX');

    // Assess
    expect({ ...names }).toMatchObject({ check: 'CheckBuildX', present: 'BuildXPresent?', skip: 'BuildXAlreadyBuilt', record: 'RecordBuildX' });
    expect([...names]).toEqual(['CheckBuildX', 'BuildXPresent?', 'BuildXAlreadyBuilt', 'RecordBuildX']);
  });
});

describe('build stages refused naming the field', () => {
  it.each([
    {
      what: 'both commit and commitParam',
      raw: withBuild((b) => (b.source = { git: { url: GIT_URL, commit: COMMIT, commitParam: 'commit' } })),
      message: 'phases[0].source.git (phase BuildMoolloy): must give exactly one of commit or commitParam',
    },
    {
      what: 'neither commit nor commitParam',
      raw: withBuild((b) => (b.source = { git: { url: GIT_URL } })),
      message: 'phases[0].source.git (phase BuildMoolloy): must give exactly one of commit or commitParam',
    },
    {
      what: 'a branch as the commit ("main")',
      raw: withBuild((b) => (b.source = { git: { url: GIT_URL, commit: 'main' } })),
      message: 'phases[0].source.git.commit (phase BuildMoolloy): must be a full commit SHA (40 hex characters), not a branch or tag',
    },
    {
      what: 'a short commit',
      raw: withBuild((b) => (b.source = { git: { url: GIT_URL, commit: COMMIT.slice(0, 7) } })),
      message: 'phases[0].source.git.commit (phase BuildMoolloy): must be a full commit SHA',
    },
    {
      what: 'an upper-case commit',
      raw: withBuild((b) => (b.source = { git: { url: GIT_URL, commit: COMMIT.toUpperCase() } })),
      message: 'phases[0].source.git.commit (phase BuildMoolloy): must be a full commit SHA',
    },
    {
      what: 'a commitParam naming no declared parameter',
      raw: withBuild((b) => (b.source = { git: { url: GIT_URL, commitParam: 'sha' } })),
      message: 'phases[0].source.git.commitParam (phase BuildMoolloy): must name a string parameter declared in params (got "sha")',
    },
    {
      what: 'a commitParam naming an integer parameter',
      raw: withBuild((b) => (b.source = { git: { url: GIT_URL, commitParam: 'shards' } })),
      message: 'phases[0].source.git.commitParam (phase BuildMoolloy): must name a string parameter declared in params (got "shards")',
    },
    {
      what: 'a commitParam naming an enum parameter',
      raw: withBuild((b) => (b.source = { git: { url: GIT_URL, commitParam: 'flavour' } })),
      message: 'phases[0].source.git.commitParam (phase BuildMoolloy): must name a string parameter declared in params (got "flavour")',
    },
    {
      what: 'a commitParam spelled as its environment variable',
      raw: withBuild((b) => (b.source = { git: { url: GIT_URL, commitParam: 'PIPELINE_PARAM_COMMIT' } })),
      message: 'phases[0].source.git.commitParam (phase BuildMoolloy): must name a string parameter declared in params (got "PIPELINE_PARAM_COMMIT")',
    },
    {
      what: 'an http:// repository URL',
      raw: withBuild((b) => (b.source = { git: { url: 'http://example.com/app.git', commit: COMMIT } })),
      message: 'phases[0].source.git.url (phase BuildMoolloy): must be an https://, ssh:// or git@ repository URL',
    },
    {
      what: 'an S3 source that is no .tar.gz',
      raw: withBuild((b) => (b.source = { s3: { key: 'src.zip' } })),
      message: 'phases[0].source.s3.key (phase BuildMoolloy): must be an object key ending in .tar.gz',
    },
    {
      what: 'an artifact name with an upper-case letter',
      raw: withBuild((b) => (b.artifact = 'Moolloy')),
      message: 'phases[0].artifact (phase BuildMoolloy): must be lowercase letters, digits and _, starting with a letter (at most 40)',
    },
    {
      what: 'an artifact name with a dash',
      raw: withBuild((b) => (b.artifact = 'moolloy-jar')),
      message: 'phases[0].artifact (phase BuildMoolloy): must be lowercase letters, digits and _, starting with a letter (at most 40)',
    },
    {
      what: 'an artifact name with a dot',
      raw: withBuild((b) => (b.artifact = 'moolloy.jar')),
      message: 'phases[0].artifact (phase BuildMoolloy): must be lowercase letters, digits and _',
    },
    {
      what: 'an output that climbs out of the source directory',
      raw: withBuild((b) => (b.output = 'dist/../../etc/passwd')),
      message: 'phases[0].output (phase BuildMoolloy): must stay inside the source directory (relative, no ..)',
    },
    {
      what: 'an output that is ..',
      raw: withBuild((b) => (b.output = '..')),
      message: 'phases[0].output (phase BuildMoolloy): must stay inside the source directory (relative, no ..)',
    },
    {
      what: 'an absolute output',
      raw: withBuild((b) => (b.output = '/etc/passwd')),
      message: 'phases[0].output (phase BuildMoolloy): must stay inside the source directory (relative, no ..)',
    },
    {
      what: 'an output with a space',
      raw: withBuild((b) => (b.output = 'dist/my app.jar')),
      message: 'phases[0].output (phase BuildMoolloy): must be a relative path of letters, digits and . _ / -',
    },
    {
      what: 'a workloadCommand (a build runs its buildCommand)',
      raw: withBuild((b) => (b.workloadCommand = 'make')),
      message: 'phases[0] (phase BuildMoolloy): Unrecognized key: "workloadCommand"',
    },
    {
      what: 'no buildCommand',
      raw: withBuild((b) => delete b.buildCommand),
      message: 'phases[0].buildCommand (phase BuildMoolloy)',
    },
  ])('$what', ({ raw, message }) => {
    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(message);
  });

  it('a phase listing an artifact no build makes, naming the phase and the artifacts built before it', () => {
    // Prepare
    const raw = pipeline(build('BuildMoolloy', 'moolloy'), { parallel: [phase('A', { artifacts: ['moolloy'] }), phase('B', { artifacts: ['moolloy', 'solver'] })] });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[1].parallel[1].artifacts[1] (phase B): no build stage before B makes artifact solver (built before it: moolloy)');
    expect(refused).not.toContain('phases[1].parallel[0]');
    expect(refused).not.toContain('artifacts[0]');
  });

  it('a phase listing an artifact when the pipeline has no build at all', () => {
    // Prepare
    const raw = pipeline(phase('A', { artifacts: ['moolloy'] }));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[0].artifacts[0] (phase A): no build stage before A makes artifact moolloy');
  });

  it('a phase listing an artifact a LATER build makes (it would run before the artifact exists)', () => {
    // Prepare
    const raw = pipeline(phase('Early', { artifacts: ['moolloy'] }), build('BuildMoolloy', 'moolloy'), phase('Late', { artifacts: ['moolloy'] }));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[0].artifacts[0] (phase Early): no build stage before Early makes artifact moolloy (built before it: none)');
    expect(refused).not.toContain('phase Late');
  });

  it('a build listing its own artifact', () => {
    // Prepare
    const raw = pipeline(build('BuildMoolloy', 'moolloy', { artifacts: ['moolloy'] }));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[0].artifacts[0] (phase BuildMoolloy): no build stage before BuildMoolloy makes artifact moolloy');
  });

  it('two builds of the same artifact: the second is refused', () => {
    // Prepare
    const raw = pipeline(build('BuildMoolloy', 'moolloy'), build('BuildMoolloyAgain', 'moolloy'), phase('Run', { artifacts: ['moolloy'] }));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[1].artifact (phase BuildMoolloyAgain): artifact moolloy is already made by an earlier build stage');
    expect(refused).not.toContain('phases[0].artifact');
  });

  it.each([
    { state: 'CheckBuildX', where: 'after the build' },
    { state: 'RecordBuildX', where: 'after the build' },
    { state: 'BuildXAlreadyBuilt', where: 'before the build' },
  ])('a phase named $state ($where) collides with build BuildX\'s state', ({ state, where }) => {
    // Prepare
    const stages = [build('BuildX', 'x'), { parallel: [phase(state), phase('Other')] }];
    const raw = pipeline(...(where === 'before the build' ? stages.reverse() : stages));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`(phase BuildX): build BuildX names a state ${state}, which is also a phase's name; rename one`);
  });

  it("two builds whose states collide (CheckZ's skip state is ZAlreadyBuilt's check state)", () => {
    // Prepare
    const raw = pipeline(build('CheckZ', 'a'), build('ZAlreadyBuilt', 'b'), phase('Run', { artifacts: ['a', 'b'] }));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[1].name (phase ZAlreadyBuilt): build ZAlreadyBuilt names a state CheckZAlreadyBuilt, as build CheckZ does; rename one');
  });

  it('a build whose name is taken by a phase', () => {
    // Prepare
    const raw = pipeline(build('Build', 'x'), phase('Build'));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[1].name (phase Build): duplicate phase name Build');
  });

  it('an unknown stage kind lists the kinds there are, build among them', () => {
    // Prepare
    const raw = pipeline({ ...build('BuildX', 'x'), kind: 'compile' });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(STAGE_KINDS).toContain('build');
    expect(refused).toContain('phases[0].kind (phase BuildX): kind must be one of "phase", "parallel", "build"');
  });
});
