/**
 * renderHtml (simulator/html.ts) on small hand-made reports: what it draws for each launch, names
 * escaped, a phase that launched nothing, a two-day run, and a page that references nothing outside.
 */
import { describe, expect, it } from 'vitest';
import { escapeHtml, hoursMinutes, renderHtml } from '../../simulator/html';
import type { LaunchReport, PhaseReport, SimulationReport } from '../../simulator/report';

function launch(over: Partial<LaunchReport> = {}): LaunchReport {
  return {
    pool: 'c5a.large/us-east-1a',
    outcome: 'succeeded',
    start: 0,
    end: 3600,
    instanceId: 'i-0000000000000001',
    execution: 'P-r0',
    attempt: 1,
    market: 'spot',
    costUsd: 0.0123,
    noticeAt: null,
    resumedFromSeconds: 0,
    cloud: { workload: 'succeeded', terminatedBy: 'pipeline', refusals: [], workloadsStarted: 1, noticeSave: null },
    ...over,
  };
}

function phase(name: string, launches: LaunchReport[], over: Partial<PhaseReport> = {}): PhaseReport {
  const executions = [...new Set(launches.map((l) => l.execution))];
  return {
    name,
    costUsd: launches.reduce((s, l) => s + (l.costUsd ?? 0), 0),
    kind: 'phase',
    status: launches.length ? 'SUCCEEDED' : 'NOT_RUN',
    attempts: launches.length,
    launches,
    interruptions: 0,
    seconds: 3600,
    budgetSeconds: 5400,
    error: null,
    cause: null,
    workLostSeconds: 0,
    relaunches: 0,
    runs: executions.map((execution) => ({ execution, start: launches.find((l) => l.execution === execution)?.start ?? 0, seconds: 3600, status: 'SUCCEEDED', error: null, stoppedWhileLaunching: false })),
    ...over,
  };
}

function report(phases: PhaseReport[], over: Partial<SimulationReport> = {}): SimulationReport {
  return {
    scenario: 'hand-made',
    costUsd: 0.05,
    wastedUsd: 0.01,
    mode: 'full',
    status: 'SUCCEEDED',
    error: null,
    cause: null,
    simulatedSeconds: Math.max(0, ...phases.flatMap((p) => p.launches.map((l) => l.end))),
    phases,
    metrics: [],
    instances: { launched: 0, runningAtEnd: 0, lastGoneAt: null },
    workloadsRun: 0,
    transitions: 0,
    maxHistoryEvents: 0,
    apiCalls: {},
    throttledCalls: {},
    gates: [],
    artifacts: [],
    outputs: [],
    ...over,
  };
}

const count = (html: string, pattern: RegExp) => [...html.matchAll(pattern)].length;

describe('renderHtml', () => {
  it('draws a bar per launch with its outcome, market, pool and attempt; a notice and an interruption mark; a wall per execution', () => {
    // Prepare
    const r = report([
      phase('DataPhase1', [
        launch({ outcome: 'interrupted', end: 2040, noticeAt: 1920, reason: 'instance-terminated-no-capacity', pool: 'c5a.large/us-east-1b' }),
        launch({ attempt: 2, start: 1935, end: 4096, market: 'on-demand', instanceId: 'i-2' }),
      ]),
    ]);

    // Act
    const html = renderHtml(r);

    // Assess
    expect(count(html, /<rect class="bar /g)).toBe(2);
    expect(html).toContain('data-outcome="interrupted" data-market="spot" data-pool="c5a.large/us-east-1b" data-attempt="1"');
    expect(html).toContain('data-outcome="succeeded" data-market="on-demand" data-pool="c5a.large/us-east-1a" data-attempt="2"');
    expect(count(html, /<rect class="hatch"/g)).toBe(2); // the on-demand bar and the legend's swatch
    expect(count(html, /<g class="notice" data-attempt="1" data-at="1920">/g)).toBe(1);
    expect(count(html, /<g class="interruption" data-attempt="1"/g)).toBe(1);
    expect(count(html, /<line class="budget-wall[^"]*" data-phase="DataPhase1" data-execution="P-r0" data-at="5400"/g)).toBe(1);
    expect(html).toContain('instance-terminated-no-capacity');
    expect(html).toMatch(/<div id="verdict"[^>]*>.*SUCCEEDED.*hand-made/);
  });

  it('escapes every name it is given: scenario, phase, shard, pool, reason, error', () => {
    // Prepare
    const evil = `<script>alert("x")</script>&'`;
    const r = report([phase(evil, [launch({ pool: evil, reason: evil, shard: evil, execution: evil })], { shards: [{ name: evil, status: 'FAILED', attempts: 1, launches: 1, interruptions: 0, seconds: 1, budgetSeconds: 5400, error: evil, executions: [evil] }], error: evil, cause: evil })], {
      scenario: evil,
      status: 'FAILED',
      error: evil,
      cause: evil,
    });

    // Act
    const html = renderHtml(r);

    // Assess
    expect(html).not.toContain('<script');
    expect(html).not.toContain(`"x"`);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    expect(escapeHtml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&#39;');
  });

  it('a phase that launched nothing gets its lane, a note and its execution\'s budget wall, no bar', () => {
    // Prepare
    const r = report([phase('DataPhase1', [], { status: 'FAILED', error: 'States.TaskFailed', runs: [{ execution: 'P-r0', start: 0, seconds: 5, status: 'FAILED', error: 'States.TaskFailed', stoppedWhileLaunching: true }] }), phase('Research', [])], {
      status: 'FAILED',
      error: 'States.TaskFailed',
      simulatedSeconds: 5,
    });

    // Act
    const html = renderHtml(r);

    // Assess
    expect(count(html, /<g class="lane" data-phase="/g)).toBe(2);
    expect(count(html, /<rect class="bar /g)).toBe(0);
    expect(count(html, /class="budget-wall[ "]/g)).toBe(2); // the legend's and DataPhase1's (the one execution that ran)
    expect(html).toContain('no launch: States.TaskFailed');
    expect(html).toContain('not run');
    expect(html).not.toContain('NaN');
    expect(html).not.toContain('Infinity');
  });

  it('a two-day run is labelled in hours:minutes up to 48:00', () => {
    // Prepare
    const r = report([phase('Long', [launch({ end: 48 * 3600 })], { budgetSeconds: 50 * 3600 })]);

    // Act
    const html = renderHtml(r);

    // Assess
    expect(html).toContain('>48:00</text>');
    expect(count(html, /<text class="tick"/g)).toBeLessThanOrEqual(13);
    expect(hoursMinutes(48 * 3600 + 59)).toBe('48:00');
    expect(hoursMinutes(3 * 60)).toBe('0:03');
  });

  it('references nothing outside the page: no script, no link, no src, no url but its own pattern', () => {
    // Act
    const html = renderHtml(report([phase('DataPhase1', [launch({ market: 'on-demand' })])]));

    // Assess
    expect(html).not.toMatch(/<script|<link|<img|\ssrc=|@import|@font-face/i);
    expect([...html.matchAll(/url\(([^)]*)\)/g)].map((m) => m[1])).toEqual(['#hatch']);
    expect([...html.matchAll(/https?:\/\/[^"\s]*/g)].map((m) => m[0])).toEqual(['http://www.w3.org/2000/svg']);
  });
});
