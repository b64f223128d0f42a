/**
 * Prisma CLI configuration. The native schema engine cannot be downloaded on offline machines, so the CLI
 * is pointed at a stub (enough for `prisma generate`); migrations run through scripts/db-migrate.ts.
 */
import path from 'node:path';
import { defineConfig } from 'prisma/config';

process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.join(import.meta.dirname, 'prisma/bin/schema-engine-unavailable');

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/sluice' },
});
