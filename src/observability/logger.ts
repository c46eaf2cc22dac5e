// One root logger (pino, JSON lines on stdout); modules and streams use child loggers.
import pino from 'pino';
import type { LogLevel } from '../config/config';

export type RootLogger = pino.Logger;

export function createLogger(level: LogLevel): RootLogger {
  return pino({ level, base: { service: 'pushgate' }, timestamp: pino.stdTimeFunctions.isoTime });
}
