export { createDb, type Db, type DbOptions } from './client';
export { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres';
export { hashPassword, verifyPassword } from './password';
export * from './generated/prisma/client';
export {
  applyMigrations,
  createMigration,
  migrationStatus,
  setMigrationDebugLogs,
  DEFAULT_MIGRATIONS_DIR,
  DEFAULT_SCHEMA_PATH,
} from './migrate';
export * from './control-plane';
