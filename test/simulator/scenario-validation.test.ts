/**
 * Scenario validation: every bad input is refused before anything runs, naming its field. Handler
 * and API names come from what the simulator deploys and serves; `__proto__` and other inherited
 * names are no phases; spot status and StateReason codes are the ones EC2 documents (unless the
 * scenario allows unknown ones); minutes are finite and within what the clock holds; the contract
 * v2 fields are accepted. Through `npm run simulate`, such a scenario exits 2.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPipelineConfig } from '../../lib/config/load';
import { allPhases } from '../../contract/config';
import { deployedFunctions } from '../../simulator/lambda-runtime';
import {
  checkScenarioHandlers,
  checkScenarioPhases,
  handlerFileNames,
  MAX_SCENARIO_MINUTES,
  parseScenario,
  ScenarioError,
  SPOT_REQUEST_STATUS_CODES,
  STATE_REASON_CODES,
  type Scenario,
} from '../../simulator/scenario';
import { SERVICES } from '../../simulator/services';
import { synthTemplate } from '../../simulator/synth';

const PHASES = allPhases(loadPipelineConfig()).map((p) => p.name);

/** The ScenarioError message a raw scenario is refused with (fails the test if it is accepted). */
function refusal(raw: unknown): string {
  try {
    const scenario = parseScenario(raw);
    checkScenarioPhases(scenario, PHASES);
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(raw)}`);
}

describe('handler and API names come from what is deployed and served', () => {
  it('lostResponses accepts every handler file and refuses another name, naming it', () => {
    // Prepare: the handlers the built-in stack deploys are the handler files, but those only a build or gate stage or shards need.
    const deployed = deployedFunctions(synthTemplate(loadPipelineConfig())).map((f) => path.basename(f.handlerFile, '.ts'));
    expect(new Set([...deployed, 'check-artifact', 'promotion-gate', 'shard-verdict'])).toEqual(new Set(handlerFileNames()));

    // Act / Assess
    expect(() => parseScenario({ lostResponses: Object.fromEntries(handlerFileNames().map((h) => [h, 1])) })).not.toThrow();
    const message = refusal({ lostResponses: { 'launch-instance': 1, 'launch-instances': 2 } });
    expect(message).toContain('lostResponses.launch-instances: no such handler');
    expect(message).not.toContain('lostResponses.launch-instance:');
  });

  it('checkScenarioHandlers refuses a handler the stack does not deploy', () => {
    const scenario = parseScenario({ lostResponses: { 'reap-orphans': 1 } });
    expect(() => checkScenarioHandlers(scenario, ['launch-instance'])).toThrow(/lostResponses\.reap-orphans: no such handler deployed/);
    expect(() => checkScenarioHandlers(scenario, ['reap-orphans'])).not.toThrow();
  });

  it('throttle accepts every simulated operation and refuses another, naming it', () => {
    const every = Object.entries(SERVICES).flatMap(([service, operations]) => Object.keys(operations).map((op) => [`${service}.${op}`, 1]));
    expect(() => parseScenario({ throttle: Object.fromEntries(every) })).not.toThrow();
    for (const key of ['EC2.RunInstance', 'S3.DeleteBucket', 'EC2', 'EC2.RunInstances.x', 'constructor.name']) {
      expect(refusal({ throttle: { [key]: 1 } })).toContain(`throttle.${key}: no such simulated operation`);
    }
  });
});

describe('inherited property names are no phases, handlers or operations', () => {
  it('a phases key "__proto__" in JSON is reported as no such phase, not dropped', () => {
    // Prepare: JSON.parse keeps "__proto__" as an own key.
    const raw = JSON.parse('{"phases": {"__proto__": {"workloadMinutes": 5}}}') as unknown;

    // Act
    const message = refusal(raw);

    // Assess
    expect(message).toContain('phases.__proto__: no such phase in the pipeline config');
  });

  it('constructor, prototype and toString are no phases either, and a parsed plan map inherits nothing', () => {
    for (const name of ['constructor', 'prototype', 'toString', 'hasOwnProperty']) {
      expect(refusal({ phases: { [name]: {} } })).toContain(`phases.${name}: no such phase`);
    }
    const scenario: Scenario = parseScenario({ phases: { DataPhase1: {} } });
    expect(scenario.phases!.toString).toBeUndefined();
    expect(scenario.phases!.constructor).toBeUndefined();
  });

  it('"__proto__" as a handler or operation name is refused, naming it', () => {
    const raw = JSON.parse('{"lostResponses": {"__proto__": 1}, "throttle": {"__proto__": 1}}') as unknown;
    const message = refusal(raw);
    expect(message).toContain('lostResponses.__proto__: no such handler');
    expect(message).toContain('throttle.__proto__: no such simulated operation');
  });

  it('a bad plan under "__proto__" is still checked', () => {
    const raw = JSON.parse('{"phases": {"__proto__": {"workloadMinutes": -1}}}') as unknown;
    expect(refusal(raw)).toContain('phases.__proto__.workloadMinutes: must be a number > 0');
  });
});

describe('spot status and StateReason codes are the ones EC2 documents', () => {
  const attempt = (plan: Record<string, unknown>) => ({ phases: { DataPhase1: { attempts: [{ interruptAtMinute: 5 }, { interruptAtMinute: 5, ...plan }] } } });

  it('accepts every documented code and null', () => {
    for (const spotStatus of [...SPOT_REQUEST_STATUS_CODES, null]) expect(() => parseScenario(attempt({ spotStatus }))).not.toThrow();
    for (const stateReason of [...STATE_REASON_CODES, null]) expect(() => parseScenario(attempt({ stateReason }))).not.toThrow();
    for (const code of ['instance-terminated-no-capacity', 'marked-for-stop', 'fulfilled', 'instance-terminated-by-experiment']) expect(SPOT_REQUEST_STATUS_CODES).toContain(code);
    for (const code of ['Server.SpotInstanceTermination', 'Client.UserInitiatedShutdown', 'Client.VolumeLimitExceeded']) expect(STATE_REASON_CODES).toContain(code);
  });

  it('refuses an undocumented code, naming the field', () => {
    expect(refusal(attempt({ spotStatus: 'instance-terminated-no-capacityy' }))).toContain('phases.DataPhase1.attempts[1].spotStatus: "instance-terminated-no-capacityy" is not a spot request status code');
    expect(refusal(attempt({ stateReason: 'Server.SpotInstanceTerminated' }))).toContain('phases.DataPhase1.attempts[1].stateReason: "Server.SpotInstanceTerminated" is not a StateReason code');
  });

  it('accepts an undocumented code behind "allowUnknownCodes": true', () => {
    const scenario = parseScenario({ ...attempt({ spotStatus: 'instance-terminated-by-magic', stateReason: 'Server.Magic' }), allowUnknownCodes: true });
    expect(scenario.phases!.DataPhase1!.attempts![1]).toMatchObject({ spotStatus: 'instance-terminated-by-magic', stateReason: 'Server.Magic' });
    expect(refusal({ allowUnknownCodes: 'yes' })).toContain('allowUnknownCodes: must be true or false');
  });
});

describe('minutes are finite and within what the clock holds', () => {
  const FIELDS: [string, (v: number) => unknown][] = [
    ['abortAtMinute', (v) => ({ abortAtMinute: v })],
    ['bootMinutes', (v) => ({ bootMinutes: v })],
    ['preflightMinutes', (v) => ({ preflightMinutes: v })],
    ['phases.DataPhase1.workloadMinutes', (v) => ({ phases: { DataPhase1: { workloadMinutes: v } } })],
    ['phases.DataPhase1.attempts[0].interruptAtMinute', (v) => ({ phases: { DataPhase1: { attempts: [{ interruptAtMinute: v }] } } })],
    ['phases.DataPhase1.attempts[0].interruptAfterLaunchMinutes', (v) => ({ phases: { DataPhase1: { attempts: [{ interruptAfterLaunchMinutes: v }] } } })],
  ];

  it.each(FIELDS)('%s: refuses Infinity (JSON 1e400) and more than 366 days, accepts 366 days', (field, scenario) => {
    const fromJson = JSON.parse(JSON.stringify(scenario(1)).replace(/:1([,}])/, ':1e400$1')) as unknown;
    expect(refusal(fromJson)).toContain(`${field}: must be a number`);
    expect(refusal(scenario(MAX_SCENARIO_MINUTES + 1))).toContain(`${field}: must be a number`);
    expect(refusal(scenario(MAX_SCENARIO_MINUTES + 1))).toContain(`at most ${MAX_SCENARIO_MINUTES}`);
    expect(() => parseScenario(scenario(MAX_SCENARIO_MINUTES))).not.toThrow();
  });
});

describe('redriveAfterMinutes', () => {
  it('takes at most 14 days (Step Functions redrives an execution only within 14 days of its end), and refuses Infinity', () => {
    expect(() => parseScenario({ redriveAfterMinutes: 14 * 24 * 60 })).not.toThrow();
    expect(refusal({ redriveAfterMinutes: 14 * 24 * 60 + 1 })).toContain('redriveAfterMinutes: must be at most 20160 (14 days');
    expect(refusal(JSON.parse('{"redriveAfterMinutes":1e400}'))).toContain('redriveAfterMinutes: must be a number');
    expect(refusal({ redriveAfterMinutes: -1 })).toContain('redriveAfterMinutes: must be a number >= 0');
  });
});

describe('contract v2 scenario fields', () => {
  it('accepts output, interruptAfterLaunchMinutes and exit code 137', () => {
    const scenario = parseScenario({ phases: { Research: { output: 'stderr', exitCode: 137, attempts: [{ interruptAfterLaunchMinutes: 1 }, { interruptAfterLaunchMinutes: 0, exitCode: 137 }] } } });
    expect(scenario.phases!.Research).toMatchObject({ output: 'stderr', exitCode: 137, attempts: [{ interruptAfterLaunchMinutes: 1 }, { interruptAfterLaunchMinutes: 0, exitCode: 137 }] });
    for (const output of ['stdout', 'both']) expect(() => parseScenario({ phases: { Research: { output } } })).not.toThrow();
  });

  it('refuses a bad output or a negative interruptAfterLaunchMinutes, naming the field', () => {
    expect(refusal({ phases: { Research: { output: 'syslog' } } })).toContain('phases.Research.output: must be "stdout", "stderr" or "both"');
    expect(refusal({ phases: { Research: { attempts: [{ interruptAfterLaunchMinutes: -1 }] } } })).toContain('phases.Research.attempts[0].interruptAfterLaunchMinutes: must be a number >= 0');
    expect(refusal({ phases: { Research: { exitCode: 256 } } })).toContain('phases.Research.exitCode: must be a whole number 0-255');
  });
});

describe('npm run simulate with an invalid scenario exits 2, naming the field, and runs nothing', () => {
  const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
  const SPAWN_TIMEOUT_MS = 150_000;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sim-invalid-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function simulate(name: string, text: string): SpawnSyncReturns<string> {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    const result = spawnSync('npx', ['tsx', 'bin/simulate.ts', '--scenario', file, '--json'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
      encoding: 'utf8',
      timeout: SPAWN_TIMEOUT_MS,
    });
    if (result.error) throw result.error;
    return result;
  }
  const explain = (r: SpawnSyncReturns<string>) => `exit ${String(r.status)}\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-2000)}`;

  it('names every bad field of the scenario at once', () => {
    const r = simulate(
      'many.json',
      '{"abortAtMinute": 1e400, "lostResponses": {"launch-instanse": 1}, "throttle": {"EC2.RunInstance": 2}, "phases": {"Research": {"output": "syslog"}}}',
    );
    expect(r.status, explain(r)).toBe(2);
    for (const field of ['abortAtMinute', 'lostResponses.launch-instanse', 'throttle.EC2.RunInstance', 'phases.Research.output']) expect(r.stderr).toContain(field);
    expect(r.stdout).toBe('');
  }, SPAWN_TIMEOUT_MS + 10_000);

  it('names an undocumented spot status code', () => {
    const r = simulate('code.json', '{"phases": {"DataPhase1": {"attempts": [{"interruptAtMinute": 3, "spotStatus": "terminated-by-gremlins"}]}}}');
    expect(r.status, explain(r)).toBe(2);
    expect(r.stderr).toContain('phases.DataPhase1.attempts[0].spotStatus');
    expect(r.stdout).toBe('');
  }, SPAWN_TIMEOUT_MS + 10_000);

});
