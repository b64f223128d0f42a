/**
 * Applies the committed migrations (prisma/migrations) with plain `pg`: what `prisma migrate deploy` does,
 * without the Prisma CLI (whose native schema engine cannot be downloaded here) and without the schema
 * engine compiled to wasm, which only writing a new migration needs (./migration-writer.ts).
 *
 * `_prisma_migrations` is created and filled exactly as the CLI does it (same table, same checksum, same
 * advisory lock key), so the CLI, wherever it can run, sees these migrations as applied, and a CLI deploy
 * and this runner never migrate the same database at once. Unlike the CLI, each migration and its row are
 * committed in one transaction: a migration that fails leaves nothing behind, no half-applied schema and
 * no failed row that would block every later deploy until someone resolves it by hand.
 *
 *   applyMigrations({ databaseUrl, migrationsDir }) -> { applied }
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

/** The repository's prisma/ folder: the schema and the committed migrations. */
const PRISMA_DIR = path.resolve(import.meta.dirname, '../../../prisma');
export const DEFAULT_SCHEMA_PATH = path.join(PRISMA_DIR, 'schema.prisma');
export const DEFAULT_MIGRATIONS_DIR = path.join(PRISMA_DIR, 'migrations');

export interface ApplyMigrationsOptions {
  databaseUrl: string;
  /** Prisma-layout folder: <dir>/<timestamp>_<name>/migration.sql + migration_lock.toml */
  migrationsDir?: string;
}

/** A migration that cannot be applied, or a history that forbids applying any. */
export class MigrationError extends Error {
  constructor(
    message: string,
    readonly migrationName?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

// The key the schema engine locks (`SELECT pg_advisory_lock(72707369)` in its Postgres connector), so
// that this runner and a `prisma migrate deploy` elsewhere also wait for each other.
const PRISMA_ADVISORY_LOCK_KEY = 72707369;

// The engine's own DDL for Postgres (sql-schema-connector, create_migrations_table). IF NOT EXISTS is
// only belt and braces: the table is checked and created while holding the advisory lock.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
  /** The file with its line endings flipped, as the engine also accepts (git may have converted them). */
  alternateChecksums: string[];
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  started_at: Date;
  logs: string | null;
}

/** `prisma migrate deploy`: apply every migration folder not yet recorded in `_prisma_migrations`. */
export async function applyMigrations(options: ApplyMigrationsOptions): Promise<{ applied: string[] }> {
  if (new URL(options.databaseUrl).searchParams.has('schema')) {
    // pg ignores ?schema=, so this would migrate `public` while the app expects another schema.
    throw new MigrationError('?schema= in the database URL is not supported by the migration runner');
  }
  const migrations = await readMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);

  const client = new pg.Client({ connectionString: options.databaseUrl });
  // A connection lost mid-run also rejects the query in flight; without a listener the 'error' event
  // it emits as well would crash the process instead.
  client.on('error', () => {});
  await client.connect();
  try {
    // Session-level, on this one connection, for the whole run: a second process (another replica
    // starting) waits here and then finds every migration recorded.
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_KEY]);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const { rows } = await client.query<MigrationRow>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at, started_at, logs FROM _prisma_migrations',
    );
    checkHistory(rows, migrations);

    // As the engine: a migration counts as applied when any of its rows was not rolled back.
    const recorded = new Set(rows.filter((r) => r.rolled_back_at === null).map((r) => r.migration_name));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (recorded.has(migration.name)) continue;
      await applyOne(client, migration);
      applied.push(migration.name);
    }
    return { applied };
  } finally {
    // Closing the session releases the advisory lock too; end() also when the unlock itself failed.
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_KEY]).catch(() => {});
    await client.end();
  }
}

/** The migration's script and its `_prisma_migrations` row, committed together or not at all. */
async function applyOne(client: pg.Client, migration: MigrationFile): Promise<void> {
  await client.query('BEGIN');
  try {
    // No parameters, so pg sends the whole file as one simple-protocol query, as the engine does:
    // statements are not split on ';' (which would break $$ bodies and string literals).
    await client.query(migration.sql);
    // started_at is the transaction's start (now()), finished_at the moment the script completed.
    await client.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
      [randomUUID(), migration.checksum, migration.name],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw new MigrationError(
      `Migration ${migration.name} failed and was rolled back (nothing of it is applied): ${(err as Error).message}`,
      migration.name,
      { cause: err },
    );
  }
}

/**
 * Refuse, before applying anything, a history the CLI would not deploy on: a migration recorded as
 * started but neither finished nor rolled back (the CLI's P3009), or one whose file changed after it
 * was applied (which `prisma migrate dev` and `migrate status` report; applying later migrations on
 * top of a schema that differs from the files would only hide it).
 */
function checkHistory(rows: MigrationRow[], migrations: MigrationFile[]): void {
  const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
  if (failed.length > 0) {
    const details = failed
      .map((r) => `- ${r.migration_name}, started at ${r.started_at.toISOString()}${r.logs ? `: ${r.logs.trim()}` : ''}`)
      .join('\n');
    throw new MigrationError(
      `Found failed migrations in the target database; new migrations will not be applied until they are resolved ` +
        `(see https://pris.ly/d/migrate-resolve):\n${details}`,
      failed[0]?.migration_name,
    );
  }
  const byName = new Map(migrations.map((m) => [m.name, m]));
  for (const row of rows) {
    const file = byName.get(row.migration_name);
    if (!file || row.finished_at === null || row.rolled_back_at !== null) continue;
    if (!checksumMatches(file, row.checksum)) {
      throw new MigrationError(
        `Migration ${row.migration_name} was modified after it was applied: the checksum of its migration.sql ` +
          `(${file.checksum}) differs from the one recorded in _prisma_migrations (${row.checksum}). ` +
          'Restore the file as it was, and put the change in a new migration.',
        row.migration_name,
      );
    }
  }
}

function checksumMatches(file: MigrationFile, recorded: string): boolean {
  return [file.checksum, ...file.alternateChecksums].some(
    // Old schema engines wrote the hex digits of each byte without zero padding (prisma-engines#1887);
    // the engine still accepts those rows, recognised by their length.
    (hex) => hex === recorded || (recorded.length !== 64 && unpadded(hex) === recorded),
  );
}

function unpadded(hex: string): string {
  return (hex.match(/../g) ?? []).map((byte) => byte.replace(/^0/, '')).join('');
}

/** Folders sorted by name, as the CLI lists them; each must hold a UTF-8 migration.sql. */
async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const lockfile = await readFile(path.join(dir, 'migration_lock.toml'), 'utf8').catch(() => null);
  const provider = lockfile?.match(/^\s*provider\s*=\s*"([^"]*)"/m)?.[1];
  if (provider !== undefined && provider !== 'postgresql') {
    throw new MigrationError(
      `The migrations in ${dir} were written for ${provider} (migration_lock.toml), not postgresql (the CLI's P3019)`,
    );
  }
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return Promise.all(
    names.map(async (name) => {
      let bytes: Buffer;
      let sql: string;
      try {
        bytes = await readFile(path.join(dir, name, 'migration.sql'));
        sql = decoder.decode(bytes);
      } catch (err) {
        throw new MigrationError(`Migration ${name}: cannot read migration.sql: ${(err as Error).message}`, name, {
          cause: err,
        });
      }
      // The engine's checksum: SHA-256 of the script as read (the file's bytes), in lowercase hex.
      const lf = sql.replace(/\r\n/g, '\n');
      return {
        name,
        sql,
        checksum: sha256(bytes),
        alternateChecksums: [sha256(lf), sha256(lf.replace(/\n/g, '\r\n'))],
      };
    }),
  );
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
