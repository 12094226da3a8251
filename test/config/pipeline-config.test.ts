/**
 * The pipeline config schema: the built-in Saturday pipeline parses to the expected phases, and
 * every kind of bad config is refused with a PipelineConfigError naming the offending field
 * (and, for budget problems, the phase).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { loadPipelineConfig, parsePipelineConfig, PipelineConfigError } from '../../lib/config/load';
import { allPhases } from '../../contract/config';

/** The built-in config as plain, freely mutable JSON. */
type RawPhase = Record<string, unknown>;
type RawConfig = Record<string, unknown> & { phases: RawPhase[] };
const rawDefaults = (): RawConfig => structuredClone(SATURDAY_PIPELINE) as unknown as RawConfig;

/** The error a config is refused with; fails the test when the config is accepted. */
function refusal(act: () => unknown): PipelineConfigError {
  try {
    act();
  } catch (err) {
    if (err instanceof PipelineConfigError) return err;
    throw err;
  }
  throw new Error('expected the config to be refused, but it was accepted');
}

describe('built-in Saturday pipeline config', () => {
  it('parses to four phases in order with their budgets, attempts, instance types and namespace', () => {
    // Prepare
    const expected = [
      { name: 'DataPhase1', budgetSeconds: 5400, attemptSeconds: 2400 },
      { name: 'Research', budgetSeconds: 7200, attemptSeconds: 3000 },
      { name: 'PredictorTraining', budgetSeconds: 10800, attemptSeconds: 4800 },
      { name: 'Backtester', budgetSeconds: 7200, attemptSeconds: 3000 },
    ];

    // Act
    const config = loadPipelineConfig();

    // Assess
    expect(config.phases.every((stage) => !('parallel' in stage))).toBe(true);
    const phases = allPhases(config);
    expect(phases.map(({ name, budgetSeconds, attemptSeconds }) => ({ name, budgetSeconds, attemptSeconds }))).toEqual(expected);
    for (const phase of phases) expect(phase.instanceTypes.length).toBeGreaterThanOrEqual(3);
    expect(config.metricNamespace).toBe('AlphaEngine');
    expect(config.pipelineName).toBe('saturday-pipeline');
  });
});

describe('bad pipeline configs are refused naming the field', () => {
  const cases: { what: string; mutate: (c: RawConfig) => void; names: string[] }[] = [
    {
      what: 'attemptSeconds above budgetSeconds',
      mutate: (c) => {
        c.phases[1]!.attemptSeconds = 8000;
      },
      names: ['phases[1].budgetSeconds', 'Research', 'attemptSeconds 8000 exceeds budgetSeconds 7200'],
    },
    {
      what: 'a budget that cannot hold one attempt plus the cleanup margin',
      mutate: (c) => {
        c.phases[2]!.budgetSeconds = 4900; // 4800 s attempt + 300 s margin = 5100 s
      },
      names: ['phases[2].budgetSeconds', 'PredictorTraining', 'cleanup margin'],
    },
    {
      what: 'maxAttempts that cannot fit in the budget',
      mutate: (c) => {
        c.phases[3]!.maxAttempts = 3; // 7200 s holds 2 attempts of 3000 s
      },
      names: ['phases[3].budgetSeconds', 'Backtester', 'maxAttempts 3 cannot fit'],
    },
    {
      what: 'a duplicate phase name',
      mutate: (c) => {
        c.phases[3]!.name = 'Research';
      },
      names: ['phases[3].name', 'duplicate phase name Research'],
    },
    {
      what: "a bad instance type 'c5large'",
      mutate: (c) => {
        c.phases[0]!.instanceTypes = ['c5.large', 'c5large'];
      },
      names: ['phases[0].instanceTypes[1]', 'instance type'],
    },
    {
      what: 'a bad pipeline subnet id',
      mutate: (c) => {
        c.vpcId = 'vpc-0123abcd';
        c.subnetIds = ['subnet-nothex'];
      },
      names: ['subnetIds[0]', 'subnet-0123abcd'],
    },
    {
      what: 'a bad phase subnet id',
      mutate: (c) => {
        c.vpcId = 'vpc-0123abcd';
        c.subnetIds = ['subnet-0123abcd'];
        c.phases[2]!.subnetIds = ['subnet-1'];
      },
      names: ['phases[2].subnetIds[0]', 'subnet-0123abcd'],
    },
    {
      what: 'subnetIds without vpcId',
      mutate: (c) => {
        c.subnetIds = ['subnet-0123abcd'];
      },
      names: ['vpcId', 'required when subnetIds'],
    },
    {
      what: 'phase subnetIds without vpcId',
      mutate: (c) => {
        c.phases[1]!.subnetIds = ['subnet-0123abcd'];
      },
      names: ['vpcId', 'required when subnetIds'],
    },
    {
      what: 'pollIntervalSeconds 5 (below 10)',
      mutate: (c) => {
        c.phases[2]!.pollIntervalSeconds = 5;
      },
      names: ['phases[2].pollIntervalSeconds', '>= 10'],
    },
    {
      what: 'an unknown phase field',
      mutate: (c) => {
        c.phases[0]!.budget = 5400;
      },
      names: ['phases[0]', 'budget'],
    },
    {
      what: 'an unknown top-level field',
      mutate: (c) => {
        c.phaseList = [];
      },
      names: ['phaseList'],
    },
    {
      what: 'empty phases',
      mutate: (c) => {
        c.phases = [];
      },
      names: ['phases', 'at least one phase'],
    },
    {
      what: 'a parallel group with one phase',
      mutate: (c) => {
        c.phases = [c.phases[0]!, { parallel: [c.phases[1]!] }];
      },
      names: ['phases[1].parallel', 'at least two phases'],
    },
    {
      what: 'a budget problem inside a parallel group',
      mutate: (c) => {
        c.phases = [c.phases[0]!, { parallel: [c.phases[1]!, { ...c.phases[2]!, attemptSeconds: 20000 }] }];
      },
      names: ['phases[1].parallel[1].budgetSeconds', 'PredictorTraining', 'exceeds budgetSeconds'],
    },
  ];

  it.each(cases)('$what', ({ mutate, names }) => {
    // Prepare
    const config = rawDefaults();
    mutate(config);

    // Act
    const error = refusal(() => parsePipelineConfig(config));

    // Assess
    expect(error).toBeInstanceOf(PipelineConfigError);
    expect(error.name).toBe('PipelineConfigError');
    for (const name of names) expect(error.message).toContain(name);
  });

  it('reports every offending field, one per line', () => {
    // Prepare
    const config = rawDefaults();
    config.phases[0]!.pollIntervalSeconds = 5;
    config.phases[3]!.attemptSeconds = 9000;

    // Act
    const error = refusal(() => parsePipelineConfig(config));

    // Assess
    const lines = error.message.split('\n');
    expect(lines.some((l) => l.startsWith('phases[0].pollIntervalSeconds (phase DataPhase1):'))).toBe(true);
    expect(lines.some((l) => l.startsWith('phases[3].budgetSeconds:') && l.includes('Backtester'))).toBe(true);
  });
});

describe('parallel groups', () => {
  it('accepts a group of two phases and keeps pipeline order', () => {
    // Prepare
    const raw = rawDefaults();
    raw.phases = [raw.phases[0]!, { parallel: [raw.phases[1]!, raw.phases[2]!] }, raw.phases[3]!];

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(config.phases).toHaveLength(3);
    const group = config.phases[1]!;
    expect('parallel' in group && group.parallel.map((p) => p.name)).toEqual(['Research', 'PredictorTraining']);
    expect(allPhases(config).map((p) => p.name)).toEqual(['DataPhase1', 'Research', 'PredictorTraining', 'Backtester']);
  });
});

describe('loading a config file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pipeline-config-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads a valid file with defaults applied', () => {
    // Prepare
    const file = join(dir, 'valid.json');
    writeFileSync(file, JSON.stringify({ pipelineName: 'nightly', phases: [rawDefaults().phases[0]] }));

    // Act
    const config = loadPipelineConfig(file);

    // Assess
    expect(config.pipelineName).toBe('nightly');
    expect(allPhases(config).map((p) => p.name)).toEqual(['DataPhase1']);
    expect(config.cleanupMarginSeconds).toBe(300);
    expect(allPhases(config)[0]!.pollIntervalSeconds).toBe(60);
  });

  it('refuses a file that is not valid JSON, naming the file', () => {
    // Prepare
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ "phases": [ ');

    // Act
    const error = refusal(() => loadPipelineConfig(file));

    // Assess
    expect(error.message).toContain(file);
    expect(error.message).toContain('not valid JSON');
  });

  it('refuses a missing file, naming the file', () => {
    // Prepare
    const file = join(dir, 'does-not-exist.json');

    // Act
    const error = refusal(() => loadPipelineConfig(file));

    // Assess
    expect(error.message).toContain(`Cannot read pipeline config ${file}`);
  });

  it('refuses an invalid config file naming the file, the field and the phase', () => {
    // Prepare
    const file = join(dir, 'invalid.json');
    const raw = rawDefaults();
    raw.phases[1]!.attemptSeconds = 8000;
    writeFileSync(file, JSON.stringify(raw));

    // Act
    const error = refusal(() => loadPipelineConfig(file));

    // Assess
    expect(error.message).toContain(file);
    expect(error.message).toContain('phases[1].budgetSeconds');
    expect(error.message).toContain('Research');
  });
});

describe('field errors name the phase, not only its position', () => {
  it('a bad poll interval in phases[2] says it is phase PredictorTraining', () => {
    // Prepare
    const raw = JSON.parse(JSON.stringify(SATURDAY_PIPELINE)) as { phases: Record<string, unknown>[] };
    raw.phases[2]!.pollIntervalSeconds = 5;

    // Act
    const act = () => parsePipelineConfig(raw);

    // Assess
    expect(act).toThrow('phases[2].pollIntervalSeconds (phase PredictorTraining): must be >= 10');
  });
});
