/**
 * `npm run db:migration -- <name>`: write the next migration from the changes in prisma/schema.prisma
 * (what `prisma migrate dev --create-only` does). Uses a temporary shadow database on DATABASE_URL's server.
 */
import path from 'node:path';
import { DEFAULT_MIGRATIONS_DIR } from '@sluice/db/migrate';
import { createMigration, setMigrationDebugLogs } from '@sluice/db/migration-writer';

const name = process.argv[2];
const databaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
if (!name) {
  console.error('usage: npm run db:migration -- <name>');
  process.exit(2);
}
setMigrationDebugLogs(Boolean(process.env.MIGRATE_DEBUG));
const folder = await createMigration({ databaseUrl, name });
console.log(
  folder
    ? `Created ${path.relative(process.cwd(), path.join(DEFAULT_MIGRATIONS_DIR, folder, 'migration.sql'))}`
    : 'schema.prisma has no changes: no migration written.',
);
