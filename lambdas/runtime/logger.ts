/**
 * Structured JSON logs, one object per line, as Lambda's JSON log format expects.
 * The level follows AWS_LAMBDA_LOG_LEVEL (set by Lambda's advanced logging controls).
 */
const LEVELS = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 } as const;
type Level = keyof typeof LEVELS;

function enabled(level: Level): boolean {
  const configured = (process.env.AWS_LAMBDA_LOG_LEVEL ?? 'INFO').toUpperCase() as Level;
  return LEVELS[level] >= (LEVELS[configured] ?? LEVELS.INFO);
}

function write(level: Level, message: string, fields: Record<string, unknown>): void {
  if (!enabled(level)) return;
  const line = JSON.stringify({ level, timestamp: new Date().toISOString(), message, ...fields });
  if (level === 'ERROR') console.error(line);
  else console.log(line);
}

export const logger = {
  debug: (message: string, fields: Record<string, unknown> = {}) => write('DEBUG', message, fields),
  info: (message: string, fields: Record<string, unknown> = {}) => write('INFO', message, fields),
  warn: (message: string, fields: Record<string, unknown> = {}) => write('WARN', message, fields),
  error: (message: string, fields: Record<string, unknown> = {}) => write('ERROR', message, fields),
};
