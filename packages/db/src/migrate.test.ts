import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import pg from 'pg';
import { applyMigrations, createMigration, DEFAULT_MIGRATIONS_DIR, DEFAULT_SCHEMA_PATH } from './migrate';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;

async function query<T = Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

const committedMigrations = fs
  .readdirSync(DEFAULT_MIGRATIONS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

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
    assert.deepEqual(
      tables.map((t) => t.table_name),
      ['ApiKey', 'DataFile', 'Operator', 'SchemaVersion', 'Session', 'Stream', '_prisma_migrations'],
    );

    const rows = await query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }>(
      url,
      'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
    );
    assert.deepEqual(rows.map((r) => r.migration_name), committedMigrations);
    for (const row of rows) {
      const sql = fs.readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
      assert.equal(row.checksum, createHash('sha256').update(sql).digest('hex'));
      assert.ok(row.finished_at instanceof Date);
      assert.equal(row.applied_steps_count, 1);
    }
  });

  it('is a no-op the second time', async () => {
    assert.deepEqual(await applyMigrations({ databaseUrl: url }), { applied: [] });
    const [count] = await query<{ n: string }>(url, 'SELECT count(*) AS n FROM _prisma_migrations');
    assert.equal(Number(count?.n), committedMigrations.length);
  });

  it('lets concurrent deploys (several replicas starting) apply each migration once', async () => {
    const fresh = await createDatabase(adminUrl, 'sluice_migrate');
    try {
      const results = await Promise.all([1, 2, 3].map(() => applyMigrations({ databaseUrl: fresh })));
      assert.deepEqual(results.flatMap((r) => r.applied).sort(), committedMigrations);
    } finally {
      await dropDatabase(adminUrl, fresh);
    }
  });
});

describe('createMigration', () => {
  let url: string;
  let workDir: string;
  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_migrate');
    await applyMigrations({ databaseUrl: url });
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-migration-'));
    fs.cpSync(DEFAULT_MIGRATIONS_DIR, path.join(workDir, 'migrations'), { recursive: true });
    fs.copyFileSync(DEFAULT_SCHEMA_PATH, path.join(workDir, 'schema.prisma'));
  });
  after(async () => {
    await dropDatabase(adminUrl, url);
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('writes nothing when schema.prisma matches the committed migrations', async () => {
    const folder = await createMigration({
      databaseUrl: url,
      name: 'nothing',
      schemaPath: path.join(workDir, 'schema.prisma'),
      migrationsDir: path.join(workDir, 'migrations'),
    });
    assert.equal(folder, null, 'the committed migrations are up to date with schema.prisma');
  });

  it('writes the next migration folder for a schema change, and applying it applies just that', async () => {
    const schemaPath = path.join(workDir, 'schema.prisma');
    const migrationsDir = path.join(workDir, 'migrations');
    const schema = fs.readFileSync(schemaPath, 'utf8');
    fs.writeFileSync(schemaPath, schema.replace('model Operator {', 'model Operator {\n  displayName String?'));

    const folder = await createMigration({ databaseUrl: url, name: 'operator display name', schemaPath, migrationsDir });
    assert.ok(folder, 'a migration was written');
    assert.match(folder, /^\d{14}_operator_display_name$/);
    const sql = fs.readFileSync(path.join(migrationsDir, folder, 'migration.sql'), 'utf8');
    assert.match(sql, /ALTER TABLE "Operator" ADD COLUMN\s+"displayName" TEXT;/);

    assert.deepEqual(await applyMigrations({ databaseUrl: url, schemaPath, migrationsDir }), { applied: [folder] });
    const columns = await query<{ column_name: string }>(
      url,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'Operator' AND column_name = 'displayName'",
    );
    assert.equal(columns.length, 1);
    assert.deepEqual(await applyMigrations({ databaseUrl: url, schemaPath, migrationsDir }), { applied: [] });
  });
});
