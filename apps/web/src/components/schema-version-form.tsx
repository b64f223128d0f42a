'use client';
/** Adds a schema version: the current columns stay as they are; new ones must be nullable. */
import { checkAdditiveChange, formatIssue, streamSchemaSchema, type Column } from '@sluice/shared/browser';
import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { addSchemaVersionAction } from '../app/actions/streams';
import { ColumnEditor } from './column-editor';
import { ErrorList } from './error-list';

export function SchemaVersionForm({ stream, current }: { stream: string; current: Column[] }) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [columns, setColumns] = useState<Column[]>(current);
  const [errors, setErrors] = useState<string[]>([]);
  const [pending, startTransition] = useTransition();
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Add columns (new schema version)
      </button>
    );
  }
  function submit() {
    const parsed = streamSchemaSchema.safeParse({ columns });
    if (!parsed.success) return setErrors(parsed.error.issues.map(formatIssue));
    const problems = checkAdditiveChange({ columns: current }, parsed.data);
    if (problems.length > 0) return setErrors(problems);
    startTransition(async () => {
      const result = await addSchemaVersionAction(stream, { columns });
      if (!result.ok) return setErrors([result.error]);
      setOpen(false);
      router.refresh();
    });
  }
  return (
    <div className="stack panel">
      <ColumnEditor columns={columns} onChange={setColumns} locked={current.length} />
      <div className="row">
        <button type="button" className="primary" onClick={submit} disabled={pending}>
          Save version
        </button>
        <button type="button" className="link" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
      <ErrorList errors={errors} />
    </div>
  );
}
