/**
 * A promotion gate's decision (decisions/promotion.ts, seed 004): `improve` is strictly better
 * (equal fails) whichever way is better; `not-worse` allows no worsening, or up to `tolerance` of
 * |production| (the boundary itself passes, however the decimals round); an advisory rule is
 * reported but never blocks; with nothing in production the candidate is promoted. And reading a
 * metrics file: every problem named with the file and the field, extra fields ignored.
 */
import { describe, expect, it } from 'vitest';
import type { GateRule } from '../../contract/config';
import { decidePromotion, readMetrics } from '../../decisions/promotion';

const FILE = 's3://bucket/daily-training/runs/2026-05-30/exec-1/TrainModel/metrics.json';

const improve = (metric: string, better: GateRule['better'], extra: Partial<GateRule> = {}): GateRule => ({ metric, better, rule: 'improve', ...extra });
const notWorse = (metric: string, better: GateRule['better'], tolerance?: number, extra: Partial<GateRule> = {}): GateRule => ({
  metric,
  better,
  rule: 'not-worse',
  ...(tolerance === undefined ? {} : { tolerance }),
  ...extra,
});

/** One rule on metric `m`: did the candidate pass it against production? */
const passes = (rule: GateRule, candidate: number, production: number): boolean => decidePromotion([rule], { [rule.metric]: candidate }, { [rule.metric]: production }).rules[0]!.passed;

describe('decidePromotion: improve (strictly better)', () => {
  it.each([
    { better: 'higher' as const, candidate: 0.61, production: 0.58, passed: true },
    { better: 'higher' as const, candidate: 0.58, production: 0.58, passed: false },
    { better: 'higher' as const, candidate: 0.57, production: 0.58, passed: false },
    { better: 'higher' as const, candidate: 0.5800001, production: 0.58, passed: true },
    { better: 'lower' as const, candidate: 0.1, production: 0.12, passed: true },
    { better: 'lower' as const, candidate: 0.12, production: 0.12, passed: false },
    { better: 'lower' as const, candidate: 0.13, production: 0.12, passed: false },
    { better: 'higher' as const, candidate: -0.4, production: -0.5, passed: true },
    { better: 'lower' as const, candidate: -0.5, production: -0.4, passed: true },
  ])('$better is better: candidate $candidate against production $production passes: $passed', ({ better, candidate, production, passed }) => {
    // Prepare
    const rules = [improve('score', better)];

    // Act
    const decision = decidePromotion(rules, { score: candidate }, { score: production });

    // Assess
    expect(decision.rules[0]!.passed).toBe(passed);
    expect(decision.decision).toBe(passed ? 'promoted' : 'kept');
  });

  it('an improve rule ignores a tolerance (equal still fails)', () => {
    // Prepare: the schema refuses this combination; the decision must not loosen on it regardless.
    const rule = improve('accuracy', 'higher', { tolerance: 0.5 });

    // Act
    const passed = passes(rule, 0.58, 0.58);

    // Assess
    expect(passed).toBe(false);
  });
});

describe('decidePromotion: not-worse', () => {
  it.each([
    { what: 'better', better: 'higher' as const, candidate: 0.6, production: 0.58, passed: true },
    { what: 'equal', better: 'higher' as const, candidate: 0.58, production: 0.58, passed: true },
    { what: 'a hair worse', better: 'higher' as const, candidate: 0.5799, production: 0.58, passed: false },
    { what: 'better', better: 'lower' as const, candidate: 0.1, production: 0.12, passed: true },
    { what: 'equal', better: 'lower' as const, candidate: 0.12, production: 0.12, passed: true },
    { what: 'a hair worse', better: 'lower' as const, candidate: 0.1201, production: 0.12, passed: false },
  ])('without tolerance, $better is better, $what ($candidate against $production): passes $passed', ({ better, candidate, production, passed }) => {
    // Act
    const result = passes(notWorse('m', better), candidate, production);

    // Assess
    expect(result).toBe(passed);
  });

  it.each([
    // Exactly at the boundary: 10 % of production worse, as people write the numbers.
    { better: 'lower' as const, candidate: 1.1, production: 1 },
    { better: 'lower' as const, candidate: 0.22, production: 0.2 },
    { better: 'lower' as const, candidate: 0.132, production: 0.12 },
    { better: 'lower' as const, candidate: 0.33, production: 0.3 },
    { better: 'lower' as const, candidate: 0.55, production: 0.5 },
    { better: 'higher' as const, candidate: 0.9, production: 1 },
    { better: 'higher' as const, candidate: 0.72, production: 0.8 },
    { better: 'higher' as const, candidate: 0.54, production: 0.6 },
  ])('tolerance 0.1, $better is better: $candidate against $production is exactly 10 % worse and passes', ({ better, candidate, production }) => {
    // Act
    const result = passes(notWorse('m', better, 0.1), candidate, production);

    // Assess
    expect(result).toBe(true);
  });

  it.each([
    { better: 'lower' as const, candidate: 1.1001, production: 1 },
    { better: 'lower' as const, candidate: 0.1321, production: 0.12 },
    { better: 'lower' as const, candidate: 0.3301, production: 0.3 },
    { better: 'higher' as const, candidate: 0.8999, production: 1 },
    { better: 'higher' as const, candidate: 0.7199, production: 0.8 },
  ])('tolerance 0.1, $better is better: $candidate against $production is just beyond 10 % worse and fails', ({ better, candidate, production }) => {
    // Act
    const result = passes(notWorse('m', better, 0.1), candidate, production);

    // Assess
    expect(result).toBe(false);
  });

  it.each([
    // |production| = 1: the candidate may be 0.1 worse, whichever the sign of production.
    { better: 'higher' as const, candidate: -1.1, production: -1, passed: true },
    { better: 'higher' as const, candidate: -1.1001, production: -1, passed: false },
    { better: 'lower' as const, candidate: -0.9, production: -1, passed: true },
    { better: 'lower' as const, candidate: -0.8999, production: -1, passed: false },
    { better: 'higher' as const, candidate: -0.22, production: -0.2, passed: true },
    { better: 'higher' as const, candidate: -0.2201, production: -0.2, passed: false },
  ])('a negative production value: the tolerance is a fraction of |production| ($better is better, $candidate against $production: $passed)', ({ better, candidate, production, passed }) => {
    // Act
    const result = passes(notWorse('m', better, 0.1), candidate, production);

    // Assess
    expect(result).toBe(passed);
  });

  it('production 0: any tolerance is 0 of it, so only no worsening passes', () => {
    // Act
    const equal = passes(notWorse('m', 'higher', 0.5), 0, 0);
    const worse = passes(notWorse('m', 'higher', 0.5), -0.000001, 0);

    // Assess
    expect(equal).toBe(true);
    expect(worse).toBe(false);
  });

  it('tolerance 0 is no worsening at all (not a relative slack)', () => {
    // Act
    const equal = passes(notWorse('m', 'lower', 0), 0.12, 0.12);
    const worse = passes(notWorse('m', 'lower', 0), 0.12 + 1e-12, 0.12);

    // Assess
    expect(equal).toBe(true);
    expect(worse).toBe(false);
  });
});

describe('decidePromotion: the decision over all rules', () => {
  const rules: GateRule[] = [improve('accuracy', 'higher'), notWorse('maxDrawdown', 'lower', 0.1), improve('sharpe', 'higher', { advisory: true })];

  it('every blocking rule passes, the advisory one fails: promoted, and the failed advisory rule is reported', () => {
    // Prepare
    const candidate = { accuracy: 0.61, maxDrawdown: 0.125, sharpe: 1.1 };
    const production = { accuracy: 0.58, maxDrawdown: 0.12, sharpe: 1.2 };

    // Act
    const decision = decidePromotion(rules, candidate, production);

    // Assess
    expect(decision.decision).toBe('promoted');
    expect(decision.rules.map((r) => [r.metric, r.passed, r.advisory])).toEqual([
      ['accuracy', true, false],
      ['maxDrawdown', true, false],
      ['sharpe', false, true],
    ]);
    expect(decision.reasons).toEqual([
      'accuracy 0.61 > 0.58 (higher is better; must improve): passed',
      'maxDrawdown 0.125 > 0.12 (lower is better; may worsen by at most 10 %): passed',
      'sharpe 1.1 < 1.2 (higher is better; must improve, advisory): failed',
    ]);
    expect(decision.rules[0]).toEqual({ metric: 'accuracy', candidate: 0.61, production: 0.58, passed: true, advisory: false, reason: decision.reasons[0] });
  });

  it('one blocking rule fails: kept, with every rule reported', () => {
    // Prepare
    const candidate = { accuracy: 0.57, maxDrawdown: 0.1, sharpe: 1.3 };
    const production = { accuracy: 0.58, maxDrawdown: 0.12, sharpe: 1.2 };

    // Act
    const decision = decidePromotion(rules, candidate, production);

    // Assess
    expect(decision.decision).toBe('kept');
    expect(decision.reasons).toEqual([
      'accuracy 0.57 < 0.58 (higher is better; must improve): failed',
      'maxDrawdown 0.1 < 0.12 (lower is better; may worsen by at most 10 %): passed',
      'sharpe 1.3 > 1.2 (higher is better; must improve, advisory): passed',
    ]);
  });

  it('the drawdown beyond its tolerance blocks even though accuracy improves', () => {
    // Act
    const decision = decidePromotion(rules, { accuracy: 0.7, maxDrawdown: 0.2, sharpe: 2 }, { accuracy: 0.58, maxDrawdown: 0.12, sharpe: 1.2 });

    // Assess
    expect(decision.decision).toBe('kept');
    expect(decision.rules.filter((r) => !r.passed).map((r) => r.metric)).toEqual(['maxDrawdown']);
  });

  it('only advisory rules, all failing: promoted (advisory never blocks)', () => {
    // Act
    const decision = decidePromotion([improve('sharpe', 'higher', { advisory: true })], { sharpe: 0.1 }, { sharpe: 2 });

    // Assess
    expect(decision.decision).toBe('promoted');
    expect(decision.rules[0]).toMatchObject({ passed: false, advisory: true });
  });

  it('reasons say "=" for equal values, "must not worsen" without tolerance, and numbers to six significant digits', () => {
    // Act
    const decision = decidePromotion([improve('a', 'higher'), notWorse('b', 'lower'), notWorse('c', 'higher', 0.025)], { a: 1, b: 0.1 + 0.2, c: 2 / 3 }, { a: 1, b: 0.3, c: 1 / 3 });

    // Assess
    expect(decision.reasons).toEqual([
      'a 1 = 1 (higher is better; must improve): failed',
      'b 0.3 > 0.3 (lower is better; must not worsen): failed',
      'c 0.666667 > 0.333333 (higher is better; may worsen by at most 2.5 %): passed',
    ]);
  });

  it('nothing in production yet: the first candidate is promoted, whatever its values, each rule listed against null', () => {
    // Act
    const decision = decidePromotion(rules, { accuracy: 0.1, maxDrawdown: 0.9, sharpe: -1 }, undefined);

    // Assess
    expect(decision.decision).toBe('promoted');
    expect(decision.reasons).toEqual(['production holds no model yet: the first candidate is promoted']);
    expect(decision.rules).toEqual([
      { metric: 'accuracy', candidate: 0.1, production: null, passed: true, advisory: false, reason: 'accuracy 0.1 (nothing in production)' },
      { metric: 'maxDrawdown', candidate: 0.9, production: null, passed: true, advisory: false, reason: 'maxDrawdown 0.9 (nothing in production)' },
      { metric: 'sharpe', candidate: -1, production: null, passed: true, advisory: true, reason: 'sharpe -1 (nothing in production)' },
    ]);
  });
});

describe('readMetrics', () => {
  const rules: GateRule[] = [improve('accuracy', 'higher'), notWorse('maxDrawdown', 'lower', 0.1)];

  it('reads the metrics the rules name, ignoring any other field', () => {
    // Prepare
    const text = JSON.stringify({ accuracy: 0.61, maxDrawdown: 0.125, sharpe: 'n/a', trainedOn: '2026-05-30', nested: { accuracy: 1 } });

    // Act
    const read = readMetrics(text, FILE, rules);

    // Assess
    expect(read).toEqual({ metrics: { accuracy: 0.61, maxDrawdown: 0.125 } });
  });

  it.each([
    { what: 'not JSON', text: 'accuracy=0.61', problem: `${FILE}: not valid JSON (` },
    { what: 'empty', text: '', problem: `${FILE}: not valid JSON (` },
    { what: 'a bare NaN (JSON has no NaN)', text: '{"accuracy": NaN, "maxDrawdown": 0.1}', problem: `${FILE}: not valid JSON (` },
    { what: 'an array', text: '[0.61, 0.125]', problem: `${FILE}: must be a JSON object of metrics` },
    { what: 'null', text: 'null', problem: `${FILE}: must be a JSON object of metrics` },
    { what: 'a number', text: '0.61', problem: `${FILE}: must be a JSON object of metrics` },
    { what: 'a metric missing', text: '{"accuracy": 0.61}', problem: `${FILE}: maxDrawdown: missing` },
    { what: 'a metric spelled otherwise', text: '{"Accuracy": 0.61, "maxDrawdown": 0.1}', problem: `${FILE}: accuracy: missing` },
    { what: 'a string value', text: '{"accuracy": "0.61", "maxDrawdown": 0.1}', problem: `${FILE}: accuracy: must be a finite number, got "0.61"` },
    { what: 'the string "NaN"', text: '{"accuracy": 0.61, "maxDrawdown": "NaN"}', problem: `${FILE}: maxDrawdown: must be a finite number, got "NaN"` },
    { what: 'the string "Infinity"', text: '{"accuracy": "Infinity", "maxDrawdown": 0.1}', problem: `${FILE}: accuracy: must be a finite number, got "Infinity"` },
    { what: 'a number too large for a double (JSON.parse makes it Infinity)', text: '{"accuracy": 1e999, "maxDrawdown": 0.1}', problem: `${FILE}: accuracy: must be a finite number, got null` },
    { what: 'null as the value', text: '{"accuracy": null, "maxDrawdown": 0.1}', problem: `${FILE}: accuracy: must be a finite number, got null` },
    { what: 'a boolean', text: '{"accuracy": true, "maxDrawdown": 0.1}', problem: `${FILE}: accuracy: must be a finite number, got true` },
    { what: 'a nested object', text: '{"accuracy": {"value": 0.61}, "maxDrawdown": 0.1}', problem: `${FILE}: accuracy: must be a finite number, got {"value":0.61}` },
  ])('$what: the problem names the file and the field', ({ text, problem }) => {
    // Act
    const read = readMetrics(text, FILE, rules);

    // Assess
    expect(read).not.toHaveProperty('metrics');
    expect((read as { problem: string }).problem.startsWith(problem), (read as { problem: string }).problem).toBe(true);
  });

  it("a metric named like an Object.prototype member is missing unless the file holds it (no inherited 'constructor')", () => {
    // Act
    const read = readMetrics('{"accuracy": 0.61}', FILE, [improve('constructor', 'higher')]);

    // Assess
    expect(read).toEqual({ problem: `${FILE}: constructor: missing` });
  });
});
