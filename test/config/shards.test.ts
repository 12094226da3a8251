/**
 * Sharded phases in the config: `shards` as a count or as names, `maxConcurrency` and
 * `toleratedFailures` (a count or a percentage), accepted where they make sense (in a parallel
 * group too) and refused naming the field otherwise: bad or repeated shard names, too few or too
 * many shards, the two shard-only fields on an unsharded phase, a tolerance that would let the
 * phase succeed with no shard done, a build with shards, a gate whose candidate is sharded, and
 * state names of a sharded phase that collide with another stage's. And the spec each shard's
 * SpotPhase execution receives: no shard config fields, a `shard` of its own.
 */
import { describe, expect, it } from 'vitest';
import {
  allPhases,
  MAX_SHARD_CONCURRENCY,
  MAX_SHARDS,
  phaseSpecSchema,
  shardConcurrency,
  shardNames,
  shardStateNames,
  toleratedShardFailures,
  toPhaseSpec,
  type PipelineConfigInput,
} from '../../contract/config';
import { parsePipelineConfig } from '../../lib/config/load';
import { refusal } from './refusal';

type RawStage = Record<string, unknown>;
type RawConfig = Omit<PipelineConfigInput, 'phases'> & { phases: RawStage[] };

const COMMIT = '0123456789abcdef0123456789abcdef01234567';

const phase = (name: string, extra: RawStage = {}): RawStage => ({ name, workloadCommand: 'run.sh', instanceTypes: ['c5.large'], budgetSeconds: 3600, attemptSeconds: 1200, ...extra });
const pipeline = (...stages: RawStage[]): RawConfig => ({ pipelineName: 'crypto-fanout', schedules: { enabled: false }, phases: stages });
/** A pipeline whose only phase, Fan, has `extra` (its shard fields). */
const fan = (extra: RawStage): RawConfig => pipeline(phase('Fan', extra));
const gate = (name: string, candidate: string): RawStage => ({ kind: 'gate', name, candidate, rules: [{ metric: 'accuracy', better: 'higher', rule: 'improve' }] });
const build = (name: string, extra: RawStage = {}): RawStage => ({
  kind: 'build',
  name,
  artifact: 'model',
  source: { git: { url: 'https://github.com/example/model.git', commit: COMMIT } },
  buildCommand: 'make',
  output: 'dist/model.bin',
  instanceTypes: ['c5.large'],
  budgetSeconds: 3600,
  attemptSeconds: 1200,
  ...extra,
});

/** The one phase named `name` of a parsed config. */
const parsedPhase = (raw: RawConfig, name = 'Fan') => allPhases(parsePipelineConfig(raw)).find((p) => p.name === name)!;

describe('sharded phases accepted', () => {
  it('shards as a count: the shards are named "0".."n-1", all run at once, none tolerated to fail', () => {
    // Prepare
    const raw = fan({ shards: 4 });

    // Act
    const p = parsedPhase(raw);

    // Assess
    expect(shardNames(p)).toEqual(['0', '1', '2', '3']);
    expect(shardConcurrency(p)).toBe(4);
    expect(toleratedShardFailures(p)).toBe(0);
  });

  it('shards as names, in the config\'s order, with maxConcurrency and a tolerated failure', () => {
    // Prepare
    const raw = fan({ shards: ['btc', 'eth', 'sol', 'bnb', 'xrp'], maxConcurrency: 2, toleratedFailures: 1 });

    // Act
    const p = parsedPhase(raw);

    // Assess
    expect(shardNames(p)).toEqual(['btc', 'eth', 'sol', 'bnb', 'xrp']);
    expect(shardConcurrency(p)).toBe(2);
    expect(toleratedShardFailures(p)).toBe(1);
  });

  it.each([
    { shards: 1, what: 'one shard' },
    { shards: MAX_SHARDS, what: `${MAX_SHARDS} shards` },
    { shards: ['0', 'A', 'z-9_x', `a${'b'.repeat(31)}`], what: 'names of digits, letters, _ and -, up to 32 characters' },
  ])('$what', ({ shards }) => {
    // Act
    const p = parsedPhase(fan({ shards }));

    // Assess
    expect(shardNames(p)).toHaveLength(typeof shards === 'number' ? shards : shards.length);
  });

  it(`a phase of ${MAX_SHARDS} shards runs at most ${MAX_SHARD_CONCURRENCY} at a time; maxConcurrency ${MAX_SHARD_CONCURRENCY} is accepted`, () => {
    // Prepare
    const every = fan({ shards: MAX_SHARDS });
    const capped = fan({ shards: MAX_SHARDS, maxConcurrency: MAX_SHARD_CONCURRENCY });

    // Act
    const [all, max] = [parsedPhase(every), parsedPhase(capped)];

    // Assess
    expect(shardConcurrency(all)).toBe(MAX_SHARD_CONCURRENCY);
    expect(shardConcurrency(max)).toBe(MAX_SHARD_CONCURRENCY);
  });

  it.each([
    { shards: 5, toleratedFailures: '40%', tolerated: 2, what: '40% of 5 is 2' },
    { shards: 5, toleratedFailures: '20%', tolerated: 1, what: '20% of 5 is 1' },
    { shards: 3, toleratedFailures: '50%', tolerated: 1, what: '50% of 3 rounds down to 1' },
    { shards: 3, toleratedFailures: '33.33%', tolerated: 0, what: '33.33% of 3 rounds down to 0' },
    { shards: 100, toleratedFailures: '99.99%', tolerated: 99, what: '99.99% of 100 rounds down to 99' },
    { shards: 4, toleratedFailures: '0%', tolerated: 0, what: '0%' },
    { shards: 4, toleratedFailures: 3, tolerated: 3, what: 'a count one below the shards' },
  ])('toleratedFailures $toleratedFailures of $shards shards: $what', ({ shards, toleratedFailures, tolerated }) => {
    // Act
    const p = parsedPhase(fan({ shards, toleratedFailures }));

    // Assess
    expect(toleratedShardFailures(p)).toBe(tolerated);
  });

  it('sharded phases inside a parallel group, next to an unsharded one', () => {
    // Prepare
    const raw = pipeline({ parallel: [phase('Leagues', { shards: ['epl', 'laliga'], toleratedFailures: 1 }), phase('Factorial', { shards: 8, maxConcurrency: 4 }), phase('Odds')] });

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(allPhases(config).map((p) => [p.name, shardNames(p)])).toEqual([
      ['Leagues', ['epl', 'laliga']],
      ['Factorial', ['0', '1', '2', '3', '4', '5', '6', '7']],
      ['Odds', undefined],
    ]);
  });

  it('a gate may take an unsharded phase that runs after a sharded one', () => {
    // Prepare
    const raw = pipeline(phase('Fan', { shards: 3 }), phase('Train'), gate('Promote', 'Train'));

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(config.phases.map((s) => s.kind)).toEqual(['phase', 'phase', 'gate']);
  });
});

describe('sharded phases refused naming the field', () => {
  it.each([
    { what: 'a shard name with a space', shards: ['btc', 'bad name'], at: 'phases[0].shards[1]' },
    { what: 'a shard name starting with a dash', shards: ['-btc'], at: 'phases[0].shards[0]' },
    { what: 'a shard name with a dot (an S3 key segment, a tag value)', shards: ['btc.usd'], at: 'phases[0].shards[0]' },
    { what: 'a shard name of 33 characters', shards: ['a'.repeat(33)], at: 'phases[0].shards[0]' },
    { what: 'an empty shard name', shards: [''], at: 'phases[0].shards[0]' },
  ])('$what', ({ shards, at }) => {
    // Act
    const refused = refusal(fan({ shards }));

    // Assess
    expect(refused).toContain(`${at} (phase Fan): must be a shard name: letters, digits, _ and -, starting with a letter or digit (at most 32)`);
  });

  it.each([
    { what: 'a repeated shard name', shards: ['btc', 'eth', 'btc'], message: 'must not repeat a shard name' },
    { what: 'no shard names', shards: [], message: 'must list at least one shard' },
    { what: '0 shards', shards: 0, message: 'must be >= 1' },
    { what: `${MAX_SHARDS + 1} shards`, shards: MAX_SHARDS + 1, message: `must be <= ${MAX_SHARDS}` },
    { what: 'a fractional count', shards: 2.5, message: 'must be a whole number' },
  ])('$what', ({ shards, message }) => {
    // Act
    const refused = refusal(fan({ shards }));

    // Assess
    expect(refused).toContain(`phases[0].shards (phase Fan): ${message}`);
  });

  it(`a list of ${MAX_SHARDS + 1} shard names is refused saying the list is too long`, () => {
    // Prepare
    const raw = fan({ shards: Array.from({ length: MAX_SHARDS + 1 }, (_, i) => `s${i}`) });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`phases[0].shards (phase Fan): must list at most ${MAX_SHARDS} shards`);
  });

  it.each([{ shards: 0 }, { shards: [] }])('shards $shards is refused at shards only, not at toleratedFailures too', ({ shards }) => {
    // Act
    const refused = refusal(fan({ shards }));

    // Assess
    expect(refused).not.toContain('toleratedFailures');
  });

  it('toleratedFailures "abc%" is refused once, as no percentage', () => {
    // Act
    const refused = refusal(fan({ shards: 10, toleratedFailures: 'abc%' }));

    // Assess
    expect(refused).not.toContain('at most 100%');
  });

  it.each([
    { what: 'a string', shards: 'btc,eth' },
    { what: 'an object', shards: { count: 3 } },
    { what: 'true', shards: true },
  ])('shards as $what (neither a number nor a list)', ({ shards }) => {
    // Act
    const refused = refusal(fan({ shards }));

    // Assess
    expect(refused).toMatch(/^phases\[0\]\.shards \(phase Fan\): must be a number of shards \(1-100\) or a list of shard names$/m);
  });

  it.each(['maxConcurrency', 'toleratedFailures'] as const)('%s on a phase with no shards, naming the phase', (field) => {
    // Prepare
    const raw = pipeline(phase('Prepare'), phase('Fan', { [field]: 2 }));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`phases[1].${field}: phase Fan: goes with shards (the phase names none)`);
  });

  it('toleratedFailures on an unsharded phase of a parallel group', () => {
    // Prepare
    const raw = pipeline({ parallel: [phase('Leagues', { shards: 3 }), phase('Odds', { toleratedFailures: '20%' })] });

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain('phases[0].parallel[1].toleratedFailures: phase Odds: goes with shards (the phase names none)');
    expect(refused).not.toContain('parallel[0]');
  });

  it.each([
    { what: 'as many as the shards (a count)', shards: 3, toleratedFailures: 3, tolerated: 3, count: 3 },
    { what: 'more than the shards', shards: ['btc', 'eth'], toleratedFailures: 5, tolerated: 5, count: 2 },
    { what: '100%', shards: 5, toleratedFailures: '100%', tolerated: 5, count: 5 },
    { what: '100.00%', shards: 2, toleratedFailures: '100.00%', tolerated: 2, count: 2 },
  ])('toleratedFailures $what: the phase could succeed with no shard done', ({ shards, toleratedFailures, tolerated, count }) => {
    // Act
    const refused = refusal(fan({ shards, toleratedFailures }));

    // Assess
    expect(refused).toContain(
      `phases[0].toleratedFailures: phase Fan: tolerates ${tolerated} failed shard(s) of ${count}; it must be fewer than the shards, or the phase could succeed with none done`,
    );
  });

  it.each([
    { what: 'a number as a string, no %', toleratedFailures: '20', message: 'must be a percentage such as "20%"' },
    { what: 'over 100%', toleratedFailures: '120%', message: 'must be a percentage of at most 100%' },
    { what: 'letters before the %', toleratedFailures: 'abc%', message: 'must be a percentage such as "20%"' },
    { what: 'three decimals', toleratedFailures: '12.345%', message: 'must be a percentage such as "20%"' },
    { what: 'a negative count', toleratedFailures: -1, message: 'must be >= 0' },
    { what: 'a fractional count', toleratedFailures: 1.5, message: 'must be a whole number' },
  ])('toleratedFailures $what ($toleratedFailures)', ({ toleratedFailures, message }) => {
    // Act
    const refused = refusal(fan({ shards: 10, toleratedFailures }));

    // Assess
    expect(refused).toContain(`phases[0].toleratedFailures (phase Fan): ${message}`);
  });

  it.each([
    { maxConcurrency: MAX_SHARD_CONCURRENCY + 1, message: `must be <= ${MAX_SHARD_CONCURRENCY}` },
    { maxConcurrency: 0, message: 'must be >= 1' },
    { maxConcurrency: '4', message: 'must be a number' },
  ])('maxConcurrency $maxConcurrency', ({ maxConcurrency, message }) => {
    // Act
    const refused = refusal(fan({ shards: 50, maxConcurrency }));

    // Assess
    expect(refused).toContain(`phases[0].maxConcurrency (phase Fan): ${message}`);
  });

  it.each(['shards', 'maxConcurrency', 'toleratedFailures'] as const)('a build stage with %s (a build runs once)', (field) => {
    // Prepare
    const raw = pipeline(build('BuildModel', { [field]: 2 }), phase('Train'));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toContain(`phases[0] (phase BuildModel): Unrecognized key: "${field}"`);
  });

  it.each([
    { what: 'a sharded phase', stages: [phase('Train', { shards: 3 }), gate('Promote', 'Train')] },
    { what: 'a sharded phase of a parallel group', stages: [{ parallel: [phase('Other'), phase('Train', { shards: ['a', 'b'] })] }, gate('Promote', 'Train')] },
  ])('a gate whose candidate is $what (a gate compares one metrics file)', ({ stages }) => {
    // Act
    const refused = refusal(pipeline(...stages));

    // Assess
    expect(refused).toContain('phases[1].candidate (phase Promote): names sharded phase Train: a gate compares the one metrics file of an unsharded phase');
  });

  it.each([
    { what: 'a later phase named as its Shard state (<P>Shard)', stages: [phase('Fan', { shards: 2 }), phase('FanShard')], at: 'phases[0]', sharded: 'Fan', state: 'FanShard', other: 'phase FanShard' },
    { what: 'an earlier phase named as its Tally state (Tally<P>)', stages: [phase('TallyFan'), phase('Fan', { shards: 2 })], at: 'phases[1]', sharded: 'Fan', state: 'TallyFan', other: 'phase TallyFan' },
    { what: 'a phase named as its Settle state', stages: [phase('Fan', { shards: ['a', 'b'] }), phase('SettleFanShard')], at: 'phases[0]', sharded: 'Fan', state: 'SettleFanShard', other: 'phase SettleFanShard' },
    {
      what: 'a phase of the same parallel group named as its Done state',
      stages: [{ parallel: [phase('Fan', { shards: 2 }), phase('FanShardsDone')] }],
      at: 'phases[0].parallel[0]',
      sharded: 'Fan',
      state: 'FanShardsDone',
      other: 'phase FanShardsDone',
    },
    { what: 'a gate named as its Tally state', stages: [phase('Fan', { shards: 2 }), phase('Train'), gate('TallyFan', 'Train')], at: 'phases[0]', sharded: 'Fan', state: 'TallyFan', other: 'gate TallyFan' },
    {
      what: "another sharded phase's state (Settle<X>Shard is also <SettleX>Shard)",
      stages: [phase('X', { shards: 2 }), phase('SettleX', { shards: 2 })],
      at: 'phases[1]',
      sharded: 'SettleX',
      state: 'SettleXShard',
      other: 'sharded phase X',
    },
  ])('a sharded phase whose state collides with $what, naming both', ({ stages, at, sharded, state, other }) => {
    // Act
    const refused = refusal(pipeline(...stages));

    // Assess
    expect(refused).toContain(`${at}.name: sharded phase ${sharded} names a state ${state}, which ${other} also uses; rename one`);
  });

  it('every state a sharded phase adds (those a phase could be named) collides with a phase of that name', () => {
    // Prepare: the names without "?" (a phase name holds letters and digits only).
    const states = [...shardStateNames('Fan')].filter((s) => !s.includes('?'));

    // Act
    const refused = states.map((state) => refusal(pipeline(phase('Fan', { shards: 2 }), phase(state))));

    // Assess
    expect(states.length).toBeGreaterThanOrEqual(10);
    states.forEach((state, i) => expect(refused[i], state).toContain(`sharded phase Fan names a state ${state}, which phase ${state} also uses`));
  });

  it('the same names are fine when the phase is not sharded', () => {
    // Prepare
    const raw = pipeline(phase('Fan'), phase('FanShard'), phase('TallyFan'));

    // Act
    const config = parsePipelineConfig(raw);

    // Assess
    expect(allPhases(config).map((p) => p.name)).toEqual(['Fan', 'FanShard', 'TallyFan']);
  });
});

describe('the spec of a shard', () => {
  const pipelineParts = { subnetIds: ['subnet-0a1b2c3d'], cleanupMarginSeconds: 300, pipelineName: 'crypto-fanout' };

  it('toPhaseSpec of a sharded phase carries no shards, maxConcurrency or toleratedFailures, and still parses', () => {
    // Prepare
    const p = parsedPhase(fan({ shards: ['btc', 'eth', 'sol'], maxConcurrency: 2, toleratedFailures: 1 }));

    // Act
    const spec = toPhaseSpec(p, pipelineParts);

    // Assess
    expect(spec).not.toHaveProperty('shards');
    expect(spec).not.toHaveProperty('maxConcurrency');
    expect(spec).not.toHaveProperty('toleratedFailures');
    expect(spec).not.toHaveProperty('shard');
    expect(phaseSpecSchema.parse(spec)).toEqual(spec);
  });

  it('phaseSpecSchema accepts the spec with the shard the Map hands each iteration: {name, index, count}', () => {
    // Prepare
    const spec = toPhaseSpec(parsedPhase(fan({ shards: ['btc', 'eth', 'sol'] })), pipelineParts);
    const shardSpec = { ...spec, shard: { name: 'sol', index: 2, count: 3 } };

    // Act
    const parsed = phaseSpecSchema.parse(shardSpec);

    // Assess
    expect(parsed.shard).toEqual({ name: 'sol', index: 2, count: 3 });
  });

  it.each([
    { what: 'a shard name no config accepts', shard: { name: 'bad name', index: 0, count: 1 }, field: 'shard.name' },
    { what: `an index of ${MAX_SHARDS}`, shard: { name: 'x', index: MAX_SHARDS, count: MAX_SHARDS }, field: 'shard.index' },
    { what: 'a count of 0', shard: { name: 'x', index: 0, count: 0 }, field: 'shard.count' },
    { what: 'an unknown field', shard: { name: 'x', index: 0, count: 1, total: 1 }, field: 'shard' },
  ])('phaseSpecSchema refuses $what', ({ shard, field }) => {
    // Prepare
    const spec = { ...toPhaseSpec(parsedPhase(fan({ shards: 1 })), pipelineParts), shard };

    // Act
    const result = phaseSpecSchema.safeParse(spec);

    // Assess
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.'))).toContain(field);
  });

  it('phaseSpecSchema refuses a spec that still carries the config\'s shards (the Lambdas never see them)', () => {
    // Prepare
    const spec = { ...toPhaseSpec(parsedPhase(fan({ shards: 2 })), pipelineParts), shards: 2 };

    // Act
    const result = phaseSpecSchema.safeParse(spec);

    // Assess
    expect(result.success).toBe(false);
  });
});

describe('a pipeline whose shards could outlast a Standard execution', () => {
  it('is refused at phases, naming the sharded phases to give more concurrency', () => {
    // Prepare: 7 phases of 100 one-at-a-time shards of 2 days each: about 3.8 years.
    const raw = pipeline(...Array.from({ length: 7 }, (_, i) => phase(`Long${i}`, { shards: 100, maxConcurrency: 1, budgetSeconds: 172800, attemptSeconds: 86400 })));

    // Act
    const refused = refusal(raw);

    // Assess
    expect(refused).toMatch(/^phases: the pipeline may run \d+ days .* more than the 365 days a Standard Step Functions execution may last; lower the budgets or raise maxConcurrency of Long0, Long1/m);
  });
});
