'use client';
import { COLUMN_TYPES, type Column } from '@sluice/shared/browser';

/** Rows of name / type / nullable, and a button to add one; `locked` columns (of an existing version) can only be read. */
export function ColumnEditor({
  columns,
  onChange,
  locked = 0,
}: {
  columns: Column[];
  onChange: (columns: Column[]) => void;
  locked?: number;
}) {
  const update = (index: number, patch: Partial<Column>) =>
    onChange(columns.map((column, i) => (i === index ? { ...column, ...patch } : column)));
  return (
    <>
      <table className="columns">
        <thead>
          <tr>
            <th>Column</th>
            <th>Type</th>
            <th>Nullable</th>
            <th>
              <span className="sr-only">Remove</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {columns.map((column, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows are edited in place and have no id
            <tr key={index}>
              <td>
                <input
                  aria-label={`Column ${index + 1} name`}
                  value={column.name}
                  disabled={index < locked}
                  onChange={(event) => update(index, { name: event.target.value })}
                />
              </td>
              <td>
                <select
                  aria-label={`Column ${index + 1} type`}
                  value={column.type}
                  disabled={index < locked}
                  onChange={(event) => update(index, { type: event.target.value as Column['type'] })}
                >
                  {COLUMN_TYPES.map((type) => (
                    <option key={type} value={type}>
                      {type}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Column ${index + 1} nullable`}
                  checked={column.nullable}
                  disabled={index < locked}
                  onChange={(event) => update(index, { nullable: event.target.checked })}
                />
              </td>
              <td>
                {index >= locked && (
                  <button
                    type="button"
                    className="link danger"
                    aria-label={`Remove column ${index + 1}`}
                    onClick={() => onChange(columns.filter((_, i) => i !== index))}
                  >
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="row">
        <button type="button" onClick={() => onChange([...columns, { name: '', type: 'string', nullable: true }])}>
          Add column
        </button>
      </div>
    </>
  );
}
