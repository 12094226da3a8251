/**
 * What EventBridge Scheduler accepts as a schedule expression and a time zone, checked before
 * deploy so a bad schedule fails config validation naming the field instead of failing the
 * CloudFormation deploy. Pure.
 *
 * Schedule expressions: https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 * (cron fields, values and wildcards as in https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html,
 * to which the Scheduler page refers; API: CreateSchedule ScheduleExpression, ScheduleExpressionTimezone).
 */

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names standing for min, min + 1, ... (JAN = 1, SUN = 1). */
  readonly names?: readonly string[];
  /** The wildcards AWS allows in this field. */
  readonly wildcards: string;
}

/** The six fields in order, with the values and wildcards AWS allows in each. */
const CRON_FIELDS: readonly CronField[] = [
  { name: 'minutes', min: 0, max: 59, wildcards: ',-*/' },
  { name: 'hours', min: 0, max: 23, wildcards: ',-*/' },
  { name: 'day-of-month', min: 1, max: 31, wildcards: ',-*?/LW' },
  { name: 'month', min: 1, max: 12, names: MONTHS, wildcards: ',-*/' },
  { name: 'day-of-week', min: 1, max: 7, names: WEEKDAYS, wildcards: ',-*?L#' },
  { name: 'year', min: 1970, max: 2199, wildcards: ',-*/' },
];
const [, , DAY_OF_MONTH, , DAY_OF_WEEK] = CRON_FIELDS as [CronField, CronField, CronField, CronField, CronField, CronField];

/** A single value of a field (a number or, where the field has them, a name), or why not. */
function valueProblem(field: CronField, text: string): string | undefined {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return undefined;
  if (!/^\d+$/.test(text)) return `${field.name} value ${text} is not ${field.names ? `a number or one of ${field.names[0]}-${field.names.at(-1)}` : 'a number'}`;
  const value = Number(text);
  if (value < field.min || value > field.max) return `${field.name} value ${text} is outside ${field.min}-${field.max}`;
  return undefined;
}

/** One comma-separated item of a field: * | value | value-value, each optionally /increment. */
function itemProblem(field: CronField, item: string): string | undefined {
  const [base = '', increment, extra] = item.split('/');
  if (extra !== undefined) return `${field.name} item ${item} has more than one /`;
  if (increment !== undefined) {
    if (!field.wildcards.includes('/')) return `${field.name} does not allow the / wildcard`;
    if (!/^\d+$/.test(increment) || Number(increment) < 1 || Number(increment) > field.max) {
      return `${field.name} increment ${increment} must be a whole number from 1 to ${field.max}`;
    }
  }
  if (base === '*') return undefined;
  const range = base.split('-');
  if (range.length > 2) return `${field.name} item ${item} is not a value or a range`;
  if (range.length === 2 && !field.wildcards.includes('-')) return `${field.name} does not allow the - wildcard`;
  for (const value of range) {
    const problem = valueProblem(field, value);
    if (problem) return problem;
  }
  return undefined;
}

/** The special forms a whole day field may take alone: L, LW, nW (day of month); L, dL, d#n (day of week). */
function specialDayProblem(field: CronField, text: string): string | undefined {
  if (text === 'L') return undefined;
  if (field === DAY_OF_MONTH) {
    if (text === 'LW') return undefined;
    const weekday = /^(.+)W$/.exec(text);
    if (weekday) return valueProblem(field, weekday[1]!);
  }
  if (field === DAY_OF_WEEK) {
    const last = /^(.+)L$/.exec(text);
    if (last) return valueProblem(field, last[1]!);
    const nth = /^(.+)#(.+)$/.exec(text);
    if (nth) return valueProblem(field, nth[1]!) ?? (/^[1-5]$/.test(nth[2]!) ? undefined : `day-of-week ${text}: the week of the month after # must be 1-5`);
  }
  return `${field.name} ${text} is not a valid use of the L, W or # wildcard`;
}

function fieldProblem(field: CronField, text: string): string | undefined {
  if (text === '?') return field.wildcards.includes('?') ? undefined : `${field.name} does not allow ?`;
  const withoutNames = text.replace(/[A-Z]{3}/gi, (name) => (field.names?.includes(name.toUpperCase()) ? '' : name));
  if (/[LW#]/.test(withoutNames)) {
    if (field !== DAY_OF_MONTH && field !== DAY_OF_WEEK) return `${field.name} does not allow the L, W or # wildcards`;
    if (text.includes(',')) return `${field.name} ${text}: L, W and # cannot be combined with other values`;
    return specialDayProblem(field, text);
  }
  for (const item of text.split(',')) {
    if (item === '') return `${field.name} ${text} has an empty item`;
    const problem = itemProblem(field, item);
    if (problem) return problem;
  }
  return undefined;
}

function cronProblem(body: string): string | undefined {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== CRON_FIELDS.length) {
    return `must have six fields (minutes hours day-of-month month day-of-week year), found ${fields.length}`;
  }
  for (const [i, field] of CRON_FIELDS.entries()) {
    const problem = fieldProblem(field, fields[i]!);
    if (problem) return problem;
  }
  const dayOfMonth = fields[2] === '?';
  const dayOfWeek = fields[4] === '?';
  if (dayOfMonth === dayOfWeek) {
    return dayOfMonth
      ? 'day-of-month and day-of-week cannot both be ?: set one of them'
      : 'day-of-month and day-of-week cannot both be set: use ? in one of them';
  }
  return undefined;
}

const RATE_UNITS = ['minute', 'hour', 'day'] as const;

function rateProblem(body: string): string | undefined {
  const parts = body.split(' ');
  if (parts.length !== 2) return 'must be rate(value unit), e.g. rate(5 minutes)';
  const [value = '', unit = ''] = parts;
  if (!/^[1-9]\d*$/.test(value)) return `the value ${value} must be a positive whole number`;
  const singular = RATE_UNITS.find((u) => unit === u || unit === `${u}s`);
  if (!singular) return `the unit ${unit} must be one of ${RATE_UNITS.flatMap((u) => [u, `${u}s`]).join(', ')}`;
  if (value === '1' && unit !== singular) return `with a value of 1 the unit must be singular (${singular})`;
  if (value !== '1' && unit === singular) return `with a value above 1 the unit must be plural (${singular}s)`;
  return undefined;
}

function atProblem(body: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
  if (!m) return 'must be at(yyyy-mm-ddThh:mm:ss)';
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const exists = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  if (!exists || hour > 23 || minute > 59 || second > 59) return `${body} is not a date and time`;
  return undefined;
}

/**
 * Why EventBridge Scheduler would refuse this schedule expression, or undefined when it takes it:
 * `cron(minutes hours day-of-month month day-of-week year)`, `rate(value unit)` or
 * `at(yyyy-mm-ddThh:mm:ss)`.
 */
export function scheduleExpressionProblem(expression: string): string | undefined {
  const m = /^(cron|rate|at)\((.*)\)$/.exec(expression);
  if (!m) return `${expression}: must be cron(minutes hours day-of-month month day-of-week year), rate(value unit) or at(yyyy-mm-ddThh:mm:ss)`;
  const problem = m[1] === 'cron' ? cronProblem(m[2]!) : m[1] === 'rate' ? rateProblem(m[2]!) : atProblem(m[2]!);
  return problem && `${expression}: ${problem}`;
}

/** The zone Intl reads a name as (its canonical ID), or undefined when Intl does not know it. */
function intlZone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

let canonicalZones: ReadonlySet<string> | undefined;
/** The zones Intl lists (ICU's copy of the IANA tz database), e.g. America/Los_Angeles. */
function listedZones(): ReadonlySet<string> {
  canonicalZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  return canonicalZones;
}

/**
 * Why EventBridge Scheduler would refuse this ScheduleExpressionTimezone, or undefined when it
 * takes it. Scheduler wants an IANA time zone name ("America/Los_Angeles"), case-sensitive.
 *
 * Checked with Intl, whose ICU carries the IANA tz database: the name must be UTC, or an
 * Area/Location name Intl knows, whose area is one Intl.supportedValuesOf('timeZone') lists
 * (America, Europe, ...) or Etc (Etc/GMT+5), written in IANA's case. Not supportedValuesOf alone:
 * ICU lists CLDR's canonical IDs, which on Node 20 are Asia/Calcutta and Europe/Kiev, not the
 * IANA names Asia/Kolkata and Europe/Kyiv; and not Intl.DateTimeFormat alone either: it also
 * takes names in any case, legacy abbreviations that are no IANA zone (PST) and, on newer
 * runtimes, UTC offsets (+01:00). Names without an area (EST5EDT, GMT) and backward-compatible
 * links (US/Pacific) are refused with the Area/Location name Intl reads them as.
 */
export function timeZoneProblem(name: string): string | undefined {
  if (name === 'UTC' || listedZones().has(name)) return undefined;
  const example = 'an IANA time zone name such as America/Los_Angeles, Europe/Berlin or UTC';
  // Node.js 22's Intl takes UTC offsets as time zones (ECMA-402's offset time zones); Scheduler does not.
  if (/^[+-]\d{2}(:?\d{2})?$/.test(name)) return `${name} is a UTC offset, not a time zone; use ${example}`;
  const resolved = intlZone(name);
  if (resolved === undefined) return `${name} is not a time zone; use ${example}`;
  const sameButCase = [...listedZones(), resolved].find((z) => z !== name && z.toLowerCase() === name.toLowerCase());
  if (sameButCase) return `${name}: time zone names are case-sensitive; use ${sameButCase}`;
  const area = name.split('/')[0]!;
  const areas = new Set([...listedZones()].map((z) => z.split('/')[0]!));
  if (!name.includes('/') || !(areas.has(area) || area === 'Etc')) {
    return `${name} is not an IANA Area/Location time zone name; use ${resolved === 'UTC' || resolved.includes('/') ? resolved : example}`;
  }
  return undefined;
}
