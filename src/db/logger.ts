// The slice of a pino logger the database layer writes to; any pino logger (or child) fits.

import type { Logger } from 'pino';

export type DbLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
