/**
 * Streams and their schema versions: the operations behind both the admin API and the console, written
 * once. Inputs are validated with the shared zod schemas; failures are SluiceErrors with stable codes.
 */
import {
  checkAdditiveChange,
  formatIssue,
  newId,
  SluiceError,
  streamDefinitionSchema,
  streamSchemaSchema,
  type SchemaVersionDto,
  type StreamDefinitionInput,
  type StreamDto,
  type StreamSchema,
} from '@sluice/shared';
import type { z } from 'zod';
import type { Db } from '../client';
import { Prisma, type SchemaVersion, type Stream } from '../generated/prisma/client';

type StreamRow = Stream & { versions: SchemaVersion[] };

export function toStreamDto(row: StreamRow): StreamDto {
  const current = row.versions.find((v) => v.version === row.currentVersion) ?? row.versions[0];
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    schemaVersion: row.currentVersion,
    schema: { columns: (current?.columns ?? []) as StreamSchema['columns'] },
    batch: { maxRows: row.batchMaxRows, maxBytes: row.batchMaxBytes, maxAgeMs: row.batchMaxAgeMs },
    rejectMode: row.rejectMode === 'all_or_nothing' ? 'all-or-nothing' : 'skip',
    unknownColumns: row.unknownColumns,
    delimiter: row.delimiter,
    allowNonFinite: row.allowNonFinite,
    sinks: (row.sinks ?? {}) as StreamDto['sinks'],
    retentionDays: row.retentionDays,
    partitioning: row.partitioning as StreamDto['partitioning'],
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new SluiceError('request.invalid', result.error.issues.map(formatIssue).join('; '));
  return result.data;
}

const currentVersionOnly = { versions: { orderBy: { version: 'desc' as const }, take: 1 } };

export async function createStream(db: Db, input: StreamDefinitionInput | unknown): Promise<StreamDto> {
  const definition = parseOrThrow(streamDefinitionSchema, input);
  try {
    const row = await db.stream.create({
      data: {
        id: newId('str'),
        name: definition.name,
        description: definition.description,
        currentVersion: 1,
        batchMaxRows: definition.batch.maxRows,
        batchMaxBytes: definition.batch.maxBytes,
        batchMaxAgeMs: definition.batch.maxAgeMs,
        rejectMode: definition.rejectMode === 'all-or-nothing' ? 'all_or_nothing' : 'skip',
        unknownColumns: definition.unknownColumns,
        delimiter: definition.delimiter,
        allowNonFinite: definition.allowNonFinite,
        sinks: definition.sinks as Prisma.InputJsonValue,
        retentionDays: definition.retentionDays,
        partitioning: definition.partitioning as Prisma.InputJsonValue,
        versions: { create: { id: newId('sv'), version: 1, columns: definition.schema.columns as Prisma.InputJsonValue } },
      },
      include: currentVersionOnly,
    });
    return toStreamDto(row);
  } catch (error) {
    if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
      throw new SluiceError('stream.already_exists', `A stream named "${definition.name}" already exists.`);
    }
    throw error;
  }
}

export async function getStream(db: Db, name: string): Promise<StreamDto> {
  const row = await db.stream.findUnique({ where: { name }, include: currentVersionOnly });
  if (!row) throw new SluiceError('stream.not_found', `No stream is named "${name}".`);
  return toStreamDto(row);
}

export async function findStream(db: Db, name: string): Promise<StreamDto | null> {
  const row = await db.stream.findUnique({ where: { name }, include: currentVersionOnly });
  return row ? toStreamDto(row) : null;
}

export async function listStreams(db: Db): Promise<StreamDto[]> {
  const rows = await db.stream.findMany({ orderBy: { name: 'asc' }, include: currentVersionOnly });
  return rows.map(toStreamDto);
}

export async function listSchemaVersions(db: Db, name: string): Promise<SchemaVersionDto[]> {
  const stream = await db.stream.findUnique({
    where: { name },
    include: { versions: { orderBy: { version: 'desc' } } },
  });
  if (!stream) throw new SluiceError('stream.not_found', `No stream is named "${name}".`);
  return stream.versions.map((v) => ({
    version: v.version,
    schema: { columns: v.columns as StreamSchema['columns'] },
    createdAt: v.createdAt.toISOString(),
  }));
}

/**
 * Adds a schema version. Only additive changes are allowed (new nullable columns at the end), so files
 * already written stay readable under the new schema; anything else is schema.incompatible (409).
 */
export async function addSchemaVersion(
  db: Db,
  name: string,
  input: unknown,
): Promise<{ stream: StreamDto; added: StreamSchema['columns'] }> {
  const next = parseOrThrow(streamSchemaSchema, input);
  return db.$transaction(async (tx) => {
    // Lock the stream row so that two concurrent additions cannot both become version n+1.
    const locked = await tx.$queryRaw<{ id: string; currentVersion: number }[]>`
      SELECT "id", "currentVersion" FROM "Stream" WHERE "name" = ${name} FOR UPDATE`;
    const stream = locked[0];
    if (!stream) throw new SluiceError('stream.not_found', `No stream is named "${name}".`);
    const current = await tx.schemaVersion.findUniqueOrThrow({
      where: { streamId_version: { streamId: stream.id, version: stream.currentVersion } },
    });
    const previous: StreamSchema = { columns: current.columns as StreamSchema['columns'] };
    const problems = checkAdditiveChange(previous, next);
    if (problems.length > 0) {
      throw new SluiceError('schema.incompatible', `Only new nullable columns may be added: ${problems.join('; ')}.`, {
        details: problems,
      });
    }
    const version = stream.currentVersion + 1;
    await tx.schemaVersion.create({
      data: { id: newId('sv'), streamId: stream.id, version, columns: next.columns as Prisma.InputJsonValue },
    });
    const row = await tx.stream.update({
      where: { id: stream.id },
      data: { currentVersion: version },
      include: currentVersionOnly,
    });
    return { stream: toStreamDto(row), added: next.columns.slice(previous.columns.length) };
  });
}
