import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import pg from 'pg';
import { applyMigrations, DEFAULT_MIGRATIONS_DIR, MigrationError } from './migrate';
import { migrationStatus } from './migration-writer';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;

async function query<T = Record<string, unknown>>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, values)).rows as T[];
  } finally {
    await client.end();
  }
}

function folders(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

const committedMigrations = folders(DEFAULT_MIGRATIONS_DIR);

type Row = { migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number };
const migrationRows = (url: string) =>
  query<Row>(url, 'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name');

/** A copy of the committed migrations that a test may change. */
function copyOfMigrations(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-migrations-'));
  fs.cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

describe('applyMigrations', () => {
  let url: string;
  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_migrate');
  });
  after(() => dropDatabase(adminUrl, url));

  it('gives a fresh database the whole schema and records each migration as the Prisma CLI does', async () => {
    const { applied } = await applyMigrations({ databaseUrl: url });
    assert.deepEqual(applied, committedMigrations);

    const tables = await query<{ table_name: string }>(
      url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    for (const table of ['ApiKey', 'DataFile', 'Operator', 'SchemaVersion', 'Session', 'Stream', '_prisma_migrations']) {
      assert.ok(
        tables.some((t) => t.table_name === table),
        `table ${table} exists`,
      );
    }

    const rows = await migrationRows(url);
    assert.deepEqual(
      rows.map((r) => r.migration_name),
      committedMigrations,
    );
    for (const row of rows) {
      const sql = fs.readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
      assert.equal(row.checksum, createHash('sha256').update(sql).digest('hex'));
      assert.ok(row.finished_at instanceof Date);
      assert.equal(row.applied_steps_count, 1);
    }
  });

  it('creates _prisma_migrations with the columns, types and defaults the Prisma CLI gives it', async () => {
    const columns = await query<Record<string, string | number | null>>(
      url,
      `SELECT column_name, data_type, character_maximum_length AS length, is_nullable, column_default
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    assert.deepEqual(
      columns.map((c) => [c.column_name, c.data_type, c.length, c.is_nullable, c.column_default]),
      [
        ['id', 'character varying', 36, 'NO', null],
        ['checksum', 'character varying', 64, 'NO', null],
        ['finished_at', 'timestamp with time zone', null, 'YES', null],
        ['migration_name', 'character varying', 255, 'NO', null],
        ['logs', 'text', null, 'YES', null],
        ['rolled_back_at', 'timestamp with time zone', null, 'YES', null],
        ['started_at', 'timestamp with time zone', null, 'NO', 'now()'],
        ['applied_steps_count', 'integer', null, 'NO', '0'],
      ],
    );
    const [pk] = await query<{ conname: string; def: string }>(
      url,
      "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = '_prisma_migrations'::regclass",
    );
    assert.deepEqual(pk, { conname: '_prisma_migrations_pkey', def: 'PRIMARY KEY (id)' });
  });

  it("is what Prisma's own schema engine sees as an up-to-date history (no edited, failed or pending migration)", async () => {
    const status = await migrationStatus({ databaseUrl: url });
    assert.deepEqual(status, { editedMigrationNames: [], failedMigrationNames: [], hasMigrationsTable: true, history: null });
  });

  it('is a no-op the second time', async () => {
    assert.deepEqual(await applyMigrations({ databaseUrl: url }), { applied: [] });
    assert.equal((await migrationRows(url)).length, committedMigrations.length);
  });

  it('lets concurrent deploys (several replicas starting) apply each migration once', async () => {
    const fresh = await createDatabase(adminUrl, 'sluice_migrate');
    try {
      const results = await Promise.all([1, 2, 3].map(() => applyMigrations({ databaseUrl: fresh })));
      assert.deepEqual(results.flatMap((r) => r.applied).sort(), committedMigrations);
      assert.deepEqual(
        (await migrationRows(fresh)).map((r) => r.migration_name),
        committedMigrations,
      );
    } finally {
      await dropDatabase(adminUrl, fresh);
    }
  });
});

describe('applyMigrations refuses', () => {
  let url: string;
  let migrationsDir: string;
  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_migrate');
    migrationsDir = copyOfMigrations();
    await applyMigrations({ databaseUrl: url, migrationsDir });
  });
  after(async () => {
    await dropDatabase(adminUrl, url);
    fs.rmSync(migrationsDir, { recursive: true, force: true });
  });

  it('a migration edited after it was applied, naming it, and applies nothing', async () => {
    const [first] = committedMigrations;
    assert.ok(first);
    const file = path.join(migrationsDir, first, 'migration.sql');
    const original = fs.readFileSync(file);
    fs.appendFileSync(file, '\n-- edited after it was applied\n');
    fs.mkdirSync(path.join(migrationsDir, '99999999999999_later'));
    fs.writeFileSync(path.join(migrationsDir, '99999999999999_later', 'migration.sql'), 'CREATE TABLE "Later" (id int);\n');
    try {
      await assert.rejects(
        applyMigrations({ databaseUrl: url, migrationsDir }),
        (err: unknown) => err instanceof MigrationError && err.migrationName === first && /modified after it was applied/.test(err.message),
      );
      assert.equal((await query(url, `SELECT to_regclass('"Later"') AS t`))[0]?.t, null, 'the later migration was not applied');
      // The same file with Windows line endings is not an edit (git may convert them), as for the engine.
      fs.writeFileSync(file, original.toString('utf8').replace(/\n/g, '\r\n'));
      assert.deepEqual(await applyMigrations({ databaseUrl: url, migrationsDir }), { applied: ['99999999999999_later'] });
    } finally {
      fs.writeFileSync(file, original);
      fs.rmSync(path.join(migrationsDir, '99999999999999_later'), { recursive: true });
      await query(url, `DROP TABLE IF EXISTS "Later"; DELETE FROM _prisma_migrations WHERE migration_name = '99999999999999_later'`);
    }
  });

  it('to apply a broken migration, rolling all of it back, and the error names it; once fixed it applies', async () => {
    const name = '99999999999999_broken';
    const dir = path.join(migrationsDir, name);
    fs.mkdirSync(dir);
    // The first statement is fine: it must not survive the failure of the second.
    fs.writeFileSync(path.join(dir, 'migration.sql'), 'CREATE TABLE "HalfDone" (id int);\nALTER TABLE "NoSuchTable" ADD COLUMN x int;\n');
    try {
      await assert.rejects(
        applyMigrations({ databaseUrl: url, migrationsDir }),
        (err: unknown) =>
          err instanceof MigrationError && err.migrationName === name && err.message.includes(name) && /NoSuchTable/.test(err.message),
      );
      assert.equal((await query(url, `SELECT to_regclass('"HalfDone"') AS t`))[0]?.t, null, 'nothing of it is applied');
      assert.deepEqual(
        (await migrationRows(url)).map((r) => r.migration_name),
        committedMigrations,
        'and it is not recorded',
      );

      fs.writeFileSync(path.join(dir, 'migration.sql'), 'CREATE TABLE "HalfDone" (id int);\n');
      assert.deepEqual(await applyMigrations({ databaseUrl: url, migrationsDir }), { applied: [name] });
    } finally {
      fs.rmSync(dir, { recursive: true });
      await query(url, `DROP TABLE IF EXISTS "HalfDone"; DELETE FROM _prisma_migrations WHERE migration_name = '${name}'`);
    }
  });

  it('while a failed migration is recorded (by the Prisma CLI, which records failures), as migrate deploy does', async () => {
    const name = '99999999999999_failed_elsewhere';
    await query(
      url,
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs) VALUES (gen_random_uuid(), $1, $2, 'syntax error')`,
      ['0'.repeat(64), name],
    );
    try {
      await assert.rejects(
        applyMigrations({ databaseUrl: url, migrationsDir }),
        (err: unknown) => err instanceof MigrationError && err.migrationName === name && /failed migrations/.test(err.message),
      );
      // `prisma migrate resolve --rolled-back` marks it; then deploys go on.
      await query(url, 'UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = $1', [name]);
      assert.deepEqual(await applyMigrations({ databaseUrl: url, migrationsDir }), { applied: [] });
    } finally {
      await query(url, 'DELETE FROM _prisma_migrations WHERE migration_name = $1', [name]);
    }
  });
});

describe('the migration runner', () => {
  it('loads no schema engine: migrate.ts imports only Node built-ins and pg', () => {
    const source = fs.readFileSync(path.join(import.meta.dirname, 'migrate.ts'), 'utf8');
    const specifiers = [...source.matchAll(/^import\b[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]);
    assert.ok(specifiers.length > 0);
    assert.deepEqual(
      specifiers.filter((s) => !s?.startsWith('node:') && s !== 'pg'),
      [],
    );
  });
});
