/**
 * pino structured logging. One root logger is created at start-up and passed
 * down; components derive child loggers (`log.child({ component: 'ingest' })`,
 * per request or per partition). Errors are logged as `log.error({ err }, 'msg')`.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Create the root logger.
 * @param level pino level name, e.g. 'info'; 'silent' disables output.
 * @returns a pino Logger writing JSON lines to stdout.
 */
export function createLogger(level: string): Logger {
  return pino({ level, base: { app: 'vigil' } });
}
