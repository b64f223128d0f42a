import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from 'apache-arrow';
import { toArrowSchema } from './arrow';
import { clickhouseAddColumns, clickhouseCreateTable, clickhouseTypeFor } from './clickhouse';
import { parquetTypeFor } from './parquet';
import { COLUMN_TYPES, type StreamSchema } from './schema';

const schema: StreamSchema = {
  columns: [
    { name: 'id', type: 'int64', nullable: false },
    { name: 'name', type: 'string', nullable: true },
    { name: 'qty', type: 'int32', nullable: true },
    { name: 'price', type: 'float64', nullable: true },
    { name: 'ok', type: 'boolean', nullable: true },
    { name: 'at', type: 'timestamp', nullable: false },
    { name: 'day', type: 'date', nullable: true },
  ],
};

describe('toArrowSchema', () => {
  it('maps every type, keeps nullability and carries metadata', () => {
    const arrow = toArrowSchema(schema, { 'sluice.stream': 'events' });
    assert.deepEqual(
      arrow.fields.map((f) => [f.name, Type[f.typeId], f.nullable]),
      [
        ['id', 'Int', false],
        ['name', 'Utf8', true],
        ['qty', 'Int', true],
        ['price', 'Float', true],
        ['ok', 'Bool', true],
        ['at', 'Timestamp', false],
        ['day', 'Date', true],
      ],
    );
    assert.equal(arrow.fields[0]?.type.toString(), 'Int64');
    assert.equal(arrow.fields[2]?.type.toString(), 'Int32');
    const at = arrow.fields[5]?.type as unknown as { unit: number; timezone: string };
    assert.equal(at.unit, 2, 'timestamps are microseconds');
    assert.equal(at.timezone, 'UTC');
    assert.equal(arrow.metadata.get('sluice.stream'), 'events');
  });
});

describe('parquetTypeFor', () => {
  it('writes timestamps as TIMESTAMP(MICROS,UTC) and dates as DATE', () => {
    assert.deepEqual(parquetTypeFor('timestamp'), { physical: 'INT64', logical: 'TIMESTAMP(MICROS,UTC)' });
    assert.deepEqual(parquetTypeFor('date'), { physical: 'INT32', logical: 'DATE' });
    for (const type of COLUMN_TYPES) assert.ok(parquetTypeFor(type).physical);
  });
});

describe('ClickHouse mapping', () => {
  it('uses DateTime64 and Bool on modern servers, DateTime and UInt8 on old ones', () => {
    assert.equal(clickhouseTypeFor('timestamp'), "DateTime64(6, 'UTC')");
    assert.equal(clickhouseTypeFor('boolean'), 'Bool');
    const old = { dateTime64: false, bool: false };
    assert.equal(clickhouseTypeFor('timestamp', old), "DateTime('UTC')");
    assert.equal(clickhouseTypeFor('boolean', old), 'UInt8');
  });

  it('creates a MergeTree table with Nullable columns and the chosen order', () => {
    const ddl = clickhouseCreateTable('events', schema, { database: 'lake', orderBy: ['id'] });
    assert.match(ddl, /^CREATE TABLE IF NOT EXISTS `lake`\.`events`/);
    assert.match(ddl, /`id` Int64,/);
    assert.match(ddl, /`name` Nullable\(String\),/);
    assert.match(ddl, /`day` Nullable\(Date\),\n {2}`_sluice_file` String\n/);
    assert.match(ddl, /ENGINE = MergeTree\nORDER BY \(`id`\)$/);
    assert.match(clickhouseCreateTable('events', schema), /ORDER BY tuple\(\)$/);
  });

  it('adds columns for an additive schema version', () => {
    assert.equal(
      clickhouseAddColumns('events', [{ name: 'note', type: 'string', nullable: true }]),
      'ALTER TABLE `events` ADD COLUMN `note` Nullable(String)',
    );
  });
});
