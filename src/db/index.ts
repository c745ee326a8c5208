// The SQLite layer's public surface.

export { openDatabase, DEFAULT_BUSY_TIMEOUT_MS, type Db, type OpenOptions } from './database.js';
export { migrate, readMigrations, checksum, MigrationError, type MigrationErrorCode } from './migrate.js';
export { Accounts, type Account, type CreateAccountResult } from './accounts.js';
export { hashPassword, verifyPassword, verifyNoAccount, dummyVerify, needsRehash, OWASP_SCRYPT, type ScryptCost } from './passwords.js';
export { SqliteSessionStore, type SessionStoreOptions } from './session-store.js';
export { Results, ResultsError, type FinalState, type GameResult, type PlayerRecord, type LeaderboardRow, type RecentGame } from './results.js';
export { Snapshots, type Snapshot, type StoredSnapshot } from './snapshots.js';
export type { DbLogger } from './logger.js';
