/**
 * A promotion gate's decision (seed 004: compare the candidate model with production and promote
 * it only if it is better). Pure: the gate's Lambda reads the two metrics files and applies this.
 *
 * Each rule names a metric, which way is better, and what the candidate must do against
 * production: `improve` (strictly better) or `not-worse` (no worse than production by more than
 * `tolerance`, a fraction of production's value: 0.1 = may worsen by at most 10 %). An `advisory`
 * rule is evaluated and reported but never blocks. With nothing in production yet, the candidate
 * is promoted: there is nothing to compare with.
 */
import type { GateRule } from '../contract/config';

export interface RuleResult {
  readonly metric: string;
  readonly candidate: number;
  readonly production: number | null;
  readonly passed: boolean;
  readonly advisory: boolean;
  /** For people: "accuracy 0.61 > 0.58 (must improve)". */
  readonly reason: string;
}

export interface PromotionDecision {
  readonly decision: 'promoted' | 'kept';
  readonly reasons: string[];
  readonly rules: RuleResult[];
}

const show = (n: number) => String(Number(n.toPrecision(6)));

function evaluate(rule: GateRule, candidate: number, production: number): RuleResult {
  const sign = rule.better === 'higher' ? 1 : -1;
  // How much better the candidate is (positive) or worse (negative), in the metric's own units.
  const gain = sign * (candidate - production);
  // The boundary passes: a candidate exactly `tolerance` worse as the files write it (1.1 against 1
  // at 0.1) must not fail on binary rounding, so the limit gets a relative slack of 1e-9 of itself.
  const tolerance = rule.rule === 'not-worse' ? Math.abs(production) * (rule.tolerance ?? 0) * (1 + 1e-9) : 0;
  const passed = rule.rule === 'improve' ? gain > 0 : gain >= -tolerance;
  const relation = candidate === production ? '=' : candidate > production ? '>' : '<';
  const what = rule.rule === 'improve' ? 'must improve' : rule.tolerance ? `may worsen by at most ${show(rule.tolerance * 100)} %` : 'must not worsen';
  return {
    metric: rule.metric,
    candidate,
    production,
    passed,
    advisory: rule.advisory === true,
    reason: `${rule.metric} ${show(candidate)} ${relation} ${show(production)} (${rule.better} is better; ${what}${rule.advisory ? ', advisory' : ''}): ${passed ? 'passed' : 'failed'}`,
  };
}

export function decidePromotion(rules: readonly GateRule[], candidate: Readonly<Record<string, number>>, production: Readonly<Record<string, number>> | undefined): PromotionDecision {
  if (production === undefined) {
    return {
      decision: 'promoted',
      reasons: ['production holds no model yet: the first candidate is promoted'],
      rules: rules.map((r) => ({ metric: r.metric, candidate: candidate[r.metric]!, production: null, passed: true, advisory: r.advisory === true, reason: `${r.metric} ${show(candidate[r.metric]!)} (nothing in production)` })),
    };
  }
  const results = rules.map((r) => evaluate(r, candidate[r.metric]!, production[r.metric]!));
  const blocking = results.filter((r) => !r.passed && !r.advisory);
  return { decision: blocking.length === 0 ? 'promoted' : 'kept', reasons: results.map((r) => r.reason), rules: results };
}

/**
 * The metrics a rule set needs from one metrics file's text, or the problem naming the file and
 * the field: not JSON, not an object, a metric missing or not a finite number.
 */
export function readMetrics(text: string, file: string, rules: readonly GateRule[]): { metrics: Record<string, number> } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { problem: `${file}: not valid JSON (${(err as Error).message})` };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { problem: `${file}: must be a JSON object of metrics` };
  const metrics: Record<string, number> = {};
  for (const { metric } of rules) {
    const value = Object.hasOwn(parsed, metric) ? (parsed as Record<string, unknown>)[metric] : undefined;
    if (value === undefined) return { problem: `${file}: ${metric}: missing` };
    if (typeof value !== 'number' || !Number.isFinite(value)) return { problem: `${file}: ${metric}: must be a finite number, got ${JSON.stringify(value)}` };
    metrics[metric] = value;
  }
  return { metrics };
}
