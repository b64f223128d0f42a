'use client';
/** Create a stream by hand, or by dropping a sample CSV / NDJSON file whose columns are inferred. */
import { inferSchema, streamDefinitionSchema, formatIssue, type Column } from '@sluice/shared/browser';
import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { createStreamAction } from '../app/actions/streams';
import { ColumnEditor } from './column-editor';
import { DropZone } from './drop-zone';
import { ErrorList } from './error-list';

const SAMPLE_BYTES = 256 * 1024;

export function StreamEditor() {
  const router = useRouter();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [columns, setColumns] = useState<Column[]>([{ name: 'id', type: 'int64', nullable: false }]);
  const [rejectMode, setRejectMode] = useState<'skip' | 'all-or-nothing'>('skip');
  const [delimiter, setDelimiter] = useState(',');
  const [partitionSource, setPartitionSource] = useState('ingest');
  const [granularity, setGranularity] = useState<'day' | 'hour'>('hour');
  const [retentionDays, setRetentionDays] = useState('');
  const [clickhouseTable, setClickhouseTable] = useState('');
  const [clickhouseOrderBy, setClickhouseOrderBy] = useState('');
  const [sampleNote, setSampleNote] = useState<string | null>(null);
  const [errors, setErrors] = useState<string[]>([]);
  const [pending, startTransition] = useTransition();

  async function inferFrom(file: File) {
    // Only the first part of the file is read: enough to see the columns, never the whole file.
    const text = await file.slice(0, SAMPLE_BYTES).text();
    const format = /\.(ndjson|jsonl|json)$/i.test(file.name) || text.trimStart().startsWith('{') ? 'ndjson' : 'csv';
    const inferred = inferSchema(text, format, delimiter);
    if (inferred.columns.length === 0) {
      setSampleNote(`No columns found in ${file.name}.`);
      return;
    }
    setColumns(inferred.columns);
    if (!name)
      setName(
        file.name
          .replace(/\.[^.]+$/, '')
          .toLowerCase()
          .replace(/[^a-z0-9_-]+/g, '_')
          .replace(/^[^a-z]+/, '')
          .slice(0, 63),
      );
    setSampleNote(
      `Inferred ${inferred.columns.length} columns from ${inferred.sampledRows} sample rows of ${file.name} (${format.toUpperCase()}). Check them before saving.`,
    );
  }

  function submit() {
    const orderBy = clickhouseOrderBy
      .split(',')
      .map((column) => column.trim())
      .filter(Boolean);
    const sinks = clickhouseTable.trim() ? { clickhouse: { table: clickhouseTable.trim(), ...(orderBy.length ? { orderBy } : {}) } } : {};
    const definition = {
      name,
      description,
      schema: { columns },
      rejectMode,
      delimiter,
      sinks,
      partitioning: { source: partitionSource, granularity },
      retentionDays: retentionDays.trim() ? Number(retentionDays) : null,
    };
    const parsed = streamDefinitionSchema.safeParse(definition);
    if (!parsed.success) {
      setErrors(parsed.error.issues.map(formatIssue));
      return;
    }
    setErrors([]);
    startTransition(async () => {
      const result = await createStreamAction(definition);
      if (result.ok) router.push(`/streams/${result.name}`);
      else setErrors([result.error]);
    });
  }

  return (
    <div className="stack">
      <DropZone label="Sample file drop zone" onFile={(file) => void inferFrom(file)}>
        <p>Drop a sample CSV or NDJSON file here to infer the columns, or</p>
        <label className="button">
          Choose a sample file
          <input
            type="file"
            accept=".csv,.tsv,.txt,.ndjson,.jsonl,.json"
            className="sr-only"
            onChange={(event) => {
              const file = event.target.files?.[0];
              if (file) void inferFrom(file);
            }}
          />
        </label>
        {sampleNote && <p className="muted">{sampleNote}</p>}
      </DropZone>

      <div className="grid-2">
        <label>
          Name
          <input value={name} onChange={(event) => setName(event.target.value)} placeholder="events" required />
        </label>
        <label>
          Description
          <input value={description} onChange={(event) => setDescription(event.target.value)} placeholder="What producers send here" />
        </label>
        <label>
          When a row is rejected
          <select value={rejectMode} onChange={(event) => setRejectMode(event.target.value as 'skip' | 'all-or-nothing')}>
            <option value="skip">Store the good rows, report the bad ones</option>
            <option value="all-or-nothing">Store nothing from that request (422)</option>
          </select>
        </label>
        <label>
          CSV delimiter
          <select value={delimiter} onChange={(event) => setDelimiter(event.target.value)}>
            <option value=",">Comma (,)</option>
            <option value=";">Semicolon (;)</option>
            <option value={'\t'}>Tab</option>
            <option value="|">Pipe (|)</option>
          </select>
        </label>
        <label>
          Partition rows by
          <select value={partitionSource} onChange={(event) => setPartitionSource(event.target.value)}>
            <option value="ingest">Ingest time</option>
            {columns
              .filter((column) => column.type === 'timestamp' || column.type === 'date')
              .map((column) => (
                <option key={column.name} value={column.name}>
                  {column.name} ({column.type})
                </option>
              ))}
          </select>
        </label>
        <label>
          Partition size
          <select value={granularity} onChange={(event) => setGranularity(event.target.value as 'day' | 'hour')}>
            <option value="hour">An hour (dt and hour)</option>
            <option value="day">A day (dt)</option>
          </select>
        </label>
        <label>
          Keep days of data (optional)
          <input
            value={retentionDays}
            onChange={(event) => setRetentionDays(event.target.value)}
            inputMode="numeric"
            placeholder="every partition is kept"
          />
        </label>
        <label>
          ClickHouse table (optional)
          <input
            value={clickhouseTable}
            onChange={(event) => setClickhouseTable(event.target.value)}
            placeholder="also insert rows into this table"
          />
        </label>
        <label>
          ClickHouse ORDER BY (optional)
          <input
            value={clickhouseOrderBy}
            onChange={(event) => setClickhouseOrderBy(event.target.value)}
            placeholder="id, created_at"
            disabled={!clickhouseTable.trim()}
          />
        </label>
      </div>

      <h2>Columns</h2>
      <ColumnEditor columns={columns} onChange={setColumns} />
      <ErrorList errors={errors} />
      <div className="row">
        <button type="button" className="primary" onClick={submit} disabled={pending}>
          {pending ? 'Creating…' : 'Create stream'}
        </button>
      </div>
    </div>
  );
}
