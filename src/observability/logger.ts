// One root logger (pino, JSON lines on stdout); modules and streams use child loggers.
import pino from 'pino';
import type { LogLevel } from '../config/config';

export type RootLogger = pino.Logger;

export const REDACTED = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  // A WebSocket push's credentials (push-ws-protocol.ts).
  'req.headers["sec-websocket-protocol"]',
  'headers.authorization',
  'authorization',
  'password',
  'token',
  '*.password',
  '*.token',
];

export function createLogger(level: LogLevel): RootLogger {
  return pino({
    level,
    base: { service: 'pushgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets never reach the log, whatever a future serializer includes.
    redact: { paths: REDACTED, censor: '[redacted]' },
  });
}
