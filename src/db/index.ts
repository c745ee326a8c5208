// The storage layer's public surface: one interface (Storage) over SQLite or PostgreSQL.

export {
  openStorage,
  type Storage,
  type StorageOptions,
  type StorageTarget,
  type DatabaseHealth,
  type DatabaseState,
} from './storage.js';
export {
  migrate,
  readMigrations,
  MigrationError,
  MIGRATIONS_DIR,
  LEGACY_MIGRATIONS,
  type MigrationErrorCode,
  type MigrationModule,
} from './migrate.js';
export { outageClass, describeOutage, type OutageClass } from './errors.js';
export { redactUrl } from './postgres.js';
export { Accounts, usernameKey, type Account, type CreateAccountResult } from './accounts.js';
export {
  hashPassword,
  verifyPassword,
  verifyNoAccount,
  needsRehash,
  OWASP_SCRYPT,
  scryptCost,
  type ScryptCost,
} from './passwords.js';
export { DatabaseSessionStore, type SessionStoreOptions } from './session-store.js';
export { ResultOutbox, type ResultWriter } from './result-outbox.js';
export {
  Results,
  ResultsError,
  type FinalState,
  type GameResult,
  type PlayerRecord,
  type LeaderboardRow,
  type RecentGame,
} from './results.js';
export {
  Snapshots,
  SnapshotError,
  type Snapshot,
  type SnapshotHead,
  type SnapshotVersion,
  type StoredSnapshot,
} from './snapshots.js';
export { NodeLeases, type NodeLease } from './leases.js';
export { RateCounters, type RateHit } from './rate-limits.js';
export type { Database, Engine } from './schema.js';
export type { DbLogger } from './logger.js';
