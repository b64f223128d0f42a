/** `npm run db:migrate`: apply pending migrations to DATABASE_URL (what `prisma migrate deploy` does). */
import { applyMigrations } from '@sluice/db/migrate';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('Set DATABASE_URL to the Postgres to migrate (npm start migrates its own database by itself).');
  process.exit(2);
}
const { applied } = await applyMigrations({ databaseUrl });
console.log(applied.length ? `Applied ${applied.length} migration(s):\n  ${applied.join('\n  ')}` : 'No pending migrations.');
