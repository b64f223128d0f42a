import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import pg from 'pg';
import { applyMigrations, DEFAULT_MIGRATIONS_DIR, DEFAULT_SCHEMA_PATH } from './migrate';
import { createMigration } from './migration-writer';

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

    assert.deepEqual(await applyMigrations({ databaseUrl: url, migrationsDir }), { applied: [folder] });
    const columns = await query<{ column_name: string }>(
      url,
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'Operator' AND column_name = 'displayName'",
    );
    assert.equal(columns.length, 1);
    assert.deepEqual(await applyMigrations({ databaseUrl: url, migrationsDir }), { applied: [] });
  });
});
