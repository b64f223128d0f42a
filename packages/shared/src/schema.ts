/**
 * The stream schema model: the columns a stream accepts, their types and nullability.
 * Every other representation (Arrow, Parquet, ClickHouse, the console's forms) is derived from this.
 */
import { z } from 'zod';

export const COLUMN_TYPES = ['string', 'int32', 'int64', 'float64', 'boolean', 'timestamp', 'date'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** Identifiers must be safe as Parquet, Arrow, ClickHouse and SQL column names without quoting surprises. */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_IDENTIFIER_LENGTH = 63;
export const MAX_COLUMNS = 1000;
/** Columns Sluice adds to the data it writes (ClickHouse's `_sluice_file`) start with this. */
export const RESERVED_COLUMN_PREFIX = '_sluice';
/** The lake's partition columns (folders `dt=…/hour=…`, Delta partition columns): no stream column may take their names. */
export const PARTITION_COLUMNS = ['dt', 'hour'] as const;

export const columnSchema = z.object({
  name: z
    .string({ error: 'column name must be a string' })
    .min(1, 'column name must not be empty')
    .max(MAX_IDENTIFIER_LENGTH, `column name must be at most ${MAX_IDENTIFIER_LENGTH} characters`)
    .regex(IDENTIFIER_PATTERN, 'column name must start with a letter or _ and contain only letters, digits and _')
    // Sluice adds columns of its own under this prefix (ClickHouse's _sluice_file): a stream's column must not collide.
    .refine(
      (name) => !name.toLowerCase().startsWith(RESERVED_COLUMN_PREFIX),
      `column names starting with ${RESERVED_COLUMN_PREFIX} are reserved`,
    )
    .refine(
      (name) => !(PARTITION_COLUMNS as readonly string[]).includes(name.toLowerCase()),
      `column names ${PARTITION_COLUMNS.join(' and ')} are reserved for the lake's partitions`,
    ),
  type: z.enum(COLUMN_TYPES, { error: `column type must be one of ${COLUMN_TYPES.join(', ')}` }),
  // Nullable by default: producers rarely send every field, and additive schema changes need nullable columns.
  nullable: z.boolean().default(true),
});

export type Column = z.output<typeof columnSchema>;

export const streamSchemaSchema = z
  .object({
    columns: z
      .array(columnSchema)
      .min(1, 'a schema needs at least one column')
      .max(MAX_COLUMNS, `a schema has at most ${MAX_COLUMNS} columns`),
  })
  .superRefine((schema, ctx) => {
    // Parquet readers such as DuckDB and Spark match names case-insensitively, so "Id" and "id" would collide.
    const seen = new Map<string, number>();
    schema.columns.forEach((column, index) => {
      const key = column.name.toLowerCase();
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['columns', index, 'name'],
          message: `duplicate column name "${column.name}" (same as column ${first + 1}, names are case-insensitive)`,
        });
      } else {
        seen.set(key, index);
      }
    });
  });

export type StreamSchema = z.output<typeof streamSchemaSchema>;
export type StreamSchemaInput = z.input<typeof streamSchemaSchema>;

export type SchemaValidation = { ok: true; schema: StreamSchema } | { ok: false; issues: string[] };

/** Validates a schema definition and explains every problem in terms an operator understands. */
export function validateStreamSchema(input: unknown): SchemaValidation {
  const result = streamSchemaSchema.safeParse(input);
  if (result.success) return { ok: true, schema: result.data };
  return { ok: false, issues: result.error.issues.map(formatIssue) };
}

export function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path
    .map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`))
    .join('')
    .replace(/^\./, '');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/**
 * A new schema version may only add nullable columns at the end: files already written stay readable
 * with the new schema, and ClickHouse can follow with ADD COLUMN.
 */
export function checkAdditiveChange(previous: StreamSchema, next: StreamSchema): string[] {
  const problems: string[] = [];
  if (next.columns.length < previous.columns.length) {
    problems.push('columns cannot be removed');
  }
  previous.columns.forEach((old, index) => {
    const now = next.columns[index];
    if (!now) return;
    if (now.name !== old.name) problems.push(`column ${index + 1} must stay "${old.name}" (found "${now.name}")`);
    else if (now.type !== old.type) problems.push(`column "${old.name}" cannot change type from ${old.type} to ${now.type}`);
    else if (now.nullable !== old.nullable) problems.push(`column "${old.name}" cannot change nullability`);
  });
  for (const added of next.columns.slice(previous.columns.length)) {
    if (!added.nullable) problems.push(`new column "${added.name}" must be nullable`);
  }
  if (problems.length === 0 && next.columns.length === previous.columns.length) {
    problems.push('the new version adds no column');
  }
  return problems;
}
