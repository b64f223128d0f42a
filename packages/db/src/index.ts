// The Prisma client and the control-plane operations. The migration runner, the migration writer and the
// embedded database are separate entry points (@sluice/db/migrate, @sluice/db/migration-writer,
// @sluice/db/embedded-postgres): the last two load large wasm modules that the services do not need.
export { createDb, type Db, type DbOptions } from './client';
export { hashPassword, verifyPassword } from './password';
export * from './generated/prisma/client';
export * from './control-plane';
export * from './operators';
