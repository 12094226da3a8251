/**
 * Config that AWS (or the graph built from it) would refuse is refused at config load, naming the
 * field: phase names the pipeline graph uses for its own states, time zones and schedule
 * expressions EventBridge Scheduler does not take, instance types the workers' image cannot run
 * on, numbers no clock or quota can hold. And what AWS does take is accepted.
 */
import { describe, expect, it } from 'vitest';
import { RESERVED_PHASE_NAMES } from '../../contract/config';
import { instanceArchitecture } from '../../contract/instance-types';
import { SATURDAY_PIPELINE } from '../../lib/config/defaults';
import { parsePipelineConfig } from '../../lib/config/load';
import { refusal } from './refusal';

type RawPhase = Record<string, unknown>;
type RawConfig = Record<string, unknown> & { phases: (RawPhase | { parallel: RawPhase[] })[]; schedules?: Record<string, unknown> };
const rawDefaults = (): RawConfig => structuredClone(SATURDAY_PIPELINE) as unknown as RawConfig;
const phase = (c: RawConfig, i: number) => c.phases[i] as RawPhase;


describe('phase names the pipeline graph uses for its own states', () => {
  it.each([
    { what: 'ValidateInput', mutate: (c: RawConfig) => (phase(c, 1).name = 'ValidateInput'), field: 'phases[1].name' },
    { what: 'PipelineSucceeded', mutate: (c: RawConfig) => (phase(c, 3).name = 'PipelineSucceeded'), field: 'phases[3].name' },
    { what: 'Parallel1', mutate: (c: RawConfig) => (phase(c, 0).name = 'Parallel1'), field: 'phases[0].name' },
    {
      what: 'Parallel2, inside the group that is stage 2 (its own state name)',
      mutate: (c: RawConfig) => {
        c.phases = [c.phases[0]!, { parallel: [{ ...phase(c, 1), name: 'Parallel2' }, phase(c, 2)] }, c.phases[3]!];
      },
      field: 'phases[1].parallel[0].name',
    },
    { what: 'Parallel20 (the last stage a pipeline may have)', mutate: (c: RawConfig) => (phase(c, 2).name = 'Parallel20'), field: 'phases[2].name' },
  ])('$what is refused, naming the field', ({ mutate, field }) => {
    // Prepare
    const config = rawDefaults();
    mutate(config);

    // Act
    const message = refusal(config);

    // Assess
    const line = message.split('\n').find((l) => l.startsWith(`${field} `) || l.startsWith(`${field}:`));
    expect(line, message).toMatch(/is the name of a state of the pipeline graph \(reserved: ValidateInput, PipelineSucceeded, Parallel1-Parallel20\)/);
  });

  it('only exact, case-sensitive collisions: validateInput, Parallel, Parallel21 and Parallel01 are fine', () => {
    // Prepare
    const config = rawDefaults();
    ['validateInput', 'Parallel', 'Parallel21', 'Parallel01'].forEach((name, i) => (phase(config, i).name = name));

    // Act
    const parsed = parsePipelineConfig(config);

    // Assess
    expect(parsed.phases).toHaveLength(4);
    expect(RESERVED_PHASE_NAMES).toEqual(['ValidateInput', 'PipelineSucceeded', ...Array.from({ length: 20 }, (_, i) => `Parallel${i + 1}`)]);
  });
});

describe('schedules.timezone: an IANA time zone name, as EventBridge Scheduler takes it', () => {
  it.each([
    ['PST', 'America/Los_Angeles'],
    ['US/Pacific', 'America/Los_Angeles'],
    ['america/los_angeles', 'America/Los_Angeles'],
    ['Mars/Olympus_Mons', 'not a time zone'],
    ['+01:00', 'not a time zone'],
    ['', 'not a time zone'],
  ])('%s is refused (%s)', (timezone, hint) => {
    // Prepare
    const config = { ...rawDefaults(), schedules: { timezone } };

    // Act
    const message = refusal(config);

    // Assess
    expect(message).toContain('schedules.timezone: ');
    expect(message).toContain(hint);
  });

  it.each(['America/Los_Angeles', 'UTC', 'Etc/UTC', 'Etc/GMT+5', 'Europe/Berlin', 'Asia/Kolkata', 'Europe/Kyiv'])('%s is accepted', (timezone) => {
    // Prepare
    const config = { ...rawDefaults(), schedules: { timezone } };

    // Act
    const parsed = parsePipelineConfig(config);

    // Assess
    expect(parsed.schedules.timezone).toBe(timezone);
  });
});

describe('schedules.fullRun and schedules.preflight: expressions EventBridge Scheduler takes', () => {
  it.each([
    ['fullRun', 'cron(0 2 * * SAT *)', 'day-of-month and day-of-week cannot both be set'],
    ['fullRun', 'rate(0 minutes)', 'must be a positive whole number'],
    ['preflight', 'rate(1 hours)', 'the unit must be singular (hour)'],
    ['preflight', 'cron(0 2 ? * SAT)', 'must have six fields'],
    ['fullRun', 'rate(5 minute)', 'the unit must be plural (minutes)'],
    ['fullRun', 'rate(2 weeks)', 'the unit weeks must be one of'],
    ['preflight', 'cron(0 2 ? * ? *)', 'cannot both be ?'],
    ['preflight', 'cron(0 24 ? * FRI *)', 'hours value 24 is outside 0-23'],
    ['fullRun', 'cron(0 2 ? * SUN-XYZ *)', 'day-of-week value XYZ'],
    ['fullRun', 'cron(0 2 ? * 2/2 *)', 'day-of-week does not allow the / wildcard'],
    ['fullRun', 'cron(0 2 ? * 3#1,6#3 *)', 'cannot be combined'],
    ['fullRun', 'cron(0 2 ? * 6#6 *)', 'must be 1-5'],
    ['fullRun', 'cron(0 2 ? JAN-L SAT *)', 'month does not allow'],
    ['preflight', 'cron(0 2 ? * FRI 1969)', 'year value 1969 is outside 1970-2199'],
    ['preflight', 'at(2026-02-30T02:00:00)', 'is not a date and time'],
    ['preflight', 'at(2026-06-06 02:00:00)', 'must be at(yyyy-mm-ddThh:mm:ss)'],
    ['fullRun', 'every saturday', 'must be cron('],
  ])('%s %s is refused (%s)', (field, expression, reason) => {
    // Prepare
    const config = { ...rawDefaults(), schedules: { [field]: expression } };

    // Act
    const message = refusal(config);

    // Assess
    expect(message).toContain(`schedules.${field}: ${expression}: `);
    expect(message).toContain(reason);
  });

  it.each([
    'cron(0 2 ? * SAT *)',
    'cron(30 13 ? * FRI *)',
    'cron(0 2 ? * 7 *)',
    'cron(0 12 1 * ? *)',
    'cron(0/30 * * * ? *)',
    'cron(0,30 8-17 ? * MON-FRI 2026-2030)',
    'cron(0 8 ? JAN,JUL 6L *)',
    'cron(0 8 ? * 2#1 *)',
    'cron(0 8 L * ? *)',
    'cron(0 8 15W * ? *)',
    'rate(1 hour)',
    'rate(30 minutes)',
    'rate(7 days)',
    'at(2026-06-06T02:00:00)',
  ])('%s is accepted', (expression) => {
    // Prepare
    const config = { ...rawDefaults(), schedules: { fullRun: expression, preflight: expression } };

    // Act
    const parsed = parsePipelineConfig(config);

    // Assess
    expect(parsed.schedules.fullRun).toBe(expression);
  });
});

describe("instance types the workers' x86_64 image cannot run on", () => {
  it('an arm64 (Graviton) type is refused naming the phase field and the architectures', () => {
    // Prepare
    const config = rawDefaults();
    phase(config, 2).instanceTypes = ['c5.large', 'c6g.large'];

    // Act
    const message = refusal(config);

    // Assess
    expect(message).toContain("phases[2].instanceTypes[1]: phase PredictorTraining: c6g.large is an arm64 (Graviton) instance type; the workers' image is x86_64");
  });

  it.each([
    'a1.large', 't4g.small', 'c6g.large', 'c6gd.xlarge', 'c6gn.large', 'c7g.large', 'c7gd.large', 'c7gn.large', 'c8g.large',
    'm6g.large', 'm6gd.large', 'm7g.large', 'm7gd.large', 'm8g.large', 'r6g.large', 'r6gd.large', 'r7g.large', 'r7gd.large',
    'r8g.large', 'x2gd.large', 'im4gn.large', 'is4gen.large', 'g5g.xlarge', 'i4g.large', 'hpc7g.4xlarge',
  ])('%s is arm64', (type) => {
    // Act, Assess
    expect(instanceArchitecture(type)).toBe('arm64');
  });

  it.each(['c5.large', 'c5a.large', 'c5n.large', 'm5.large', 'm7i-flex.large', 'c7a.large', 'g4dn.xlarge', 'g5.xlarge', 'g6e.xlarge', 'gr6.4xlarge', 'inf2.xlarge', 'p5.48xlarge', 'trn1n.32xlarge', 'x2iedn.xlarge', 'z1d.large', 't3.micro'])(
    '%s is x86_64',
    (type) => {
      // Act, Assess
      expect(instanceArchitecture(type)).toBe('x86_64');
    },
  );
});

describe('instance type names', () => {
  it.each(['c7i.metal-24xl', 'm7i.metal-48xl', 'u-6tb1.56xlarge', 'c5.large'])('%s is a type name the config takes', (type) => {
    // Prepare
    const config = rawDefaults();
    phase(config, 0).instanceTypes = [type];

    // Act
    const parsed = parsePipelineConfig(config);

    // Assess
    expect(parsed.phases[0]).toMatchObject({ instanceTypes: [type] });
  });

  it.each(['c5.-large', 'c5.large-', 'c5', 'C5.large'])('%s is refused, naming the field', (type) => {
    // Prepare
    const config = rawDefaults();
    phase(config, 0).instanceTypes = [type];

    // Act
    const message = refusal(config);

    // Assess
    expect(message).toContain('phases[0].instanceTypes[0] (phase DataPhase1): must look like an instance type');
  });
});

describe('numbers no clock or quota can hold are bounded', () => {
  const phaseFields = ['budgetSeconds', 'attemptSeconds', 'maxAttempts', 'pollIntervalSeconds', 'relaunchBackoffSeconds', 'bootTimeoutSeconds', 'silenceTimeoutSeconds'];

  it.each(phaseFields.flatMap((field) => [[field, 1e12, 'must be <='] as const, [field, 1.5, 'must be a whole number'] as const]))(
    'phases[0].%s %d is refused (%s)',
    (field, value, reason) => {
      // Prepare
      const config = rawDefaults();
      phase(config, 0)[field] = value;

      // Act
      const message = refusal(config);

      // Assess
      expect(message).toContain(`phases[0].${field} (phase DataPhase1): ${reason}`);
    },
  );

  it.each([
    ['cleanupMarginSeconds', 1e12, 'must be <= 3600'],
    ['vpcAzCount', 7, 'must be <= 6'],
    ['vpcAzCount', 1, 'must be >= 2'],
  ])('%s %d is refused (%s)', (field, value, reason) => {
    // Prepare
    const config = { ...rawDefaults(), [field]: value };

    // Act
    const message = refusal(config);

    // Assess
    expect(message).toContain(`${field}: ${reason}`);
  });

  it.each([
    [{ launchInstance: 0 }, 'reservedConcurrency.launchInstance: must be >= 1'],
    [{ reaper: 2.5 }, 'reservedConcurrency.reaper: must be a whole number'],
    [{ phaseFunctions: 5 }, 'reservedConcurrency'],
  ])('reservedConcurrency %j is refused', (reservedConcurrency, reason) => {
    // Prepare
    const config = { ...rawDefaults(), reservedConcurrency };

    // Act
    const message = refusal(config);

    // Assess
    expect(message).toContain(reason);
  });

  it('reserves no concurrency and spans two AZs by default', () => {
    // Act
    const parsed = parsePipelineConfig(rawDefaults());

    // Assess
    expect(parsed.reservedConcurrency).toBeUndefined();
    expect(parsed.vpcAzCount).toBe(2);
  });
});

describe('a 48-hour phase: its waits adapt to the Step Functions history quota', () => {
  const longPhase = (extra: RawPhase = {}): RawConfig => ({
    ...rawDefaults(),
    phases: [{ name: 'Long', workloadCommand: 'run', instanceTypes: ['c5.large'], budgetSeconds: 172800, attemptSeconds: 3600, pollIntervalSeconds: 10, ...extra }],
  });

  it('is accepted (polling every 10 s would outgrow the history; it polls every 109 s instead)', () => {
    // Act
    const parsed = parsePipelineConfig(longPhase());

    // Assess
    expect(parsed.phases[0]).toMatchObject({ name: 'Long', pollIntervalSeconds: 10 });
  });

  it('its maxAttempts must fit with the relaunch backoff it runs with (680 s, not the configured 60 s)', () => {
    // Prepare: 172500 s usable holds 45 attempts of 3600 s with 60 s between them (and up to 110 s
    // to count each relaunch), 39 with 680 s.
    const config = longPhase({ maxAttempts: 40 });

    // Act
    const message = refusal(config);

    // Assess
    expect(message).toContain('phases[0].budgetSeconds: phase Long: maxAttempts 40 cannot fit');
    expect(message).toContain('at most 39 attempt(s)');
    expect(message).toContain('680 s relaunch backoff');
    expect(() => parsePipelineConfig(longPhase({ maxAttempts: 39 }))).not.toThrow();
  });
});
