// A Logger that keeps every line, so tests can assert on what was logged and at which level.
import type { Logger } from '../../../src/core/logger';

export interface Logged {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly msg: string | undefined;
}

export function recordingLogger(lines: Logged[]): Logger {
  const at = (level: Logged['level']) => (first: object | string, msg?: string) =>
    lines.push(typeof first === 'string' ? { level, fields: {}, msg: first } : { level, fields: first as Record<string, unknown>, msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}
