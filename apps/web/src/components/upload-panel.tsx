'use client';
/**
 * Drag-and-drop upload: the file goes to the ingest API as a stream (the browser reads it from disk as it
 * sends), with a progress bar for bytes sent, a cancel button, and the answer with rejected rows.
 */
import type { IngestResultDto } from '@sluice/shared/browser';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useRef, useState } from 'react';
import { formatBytes, formatNumber } from '../lib/format';
import { DropZone } from './drop-zone';

type State =
  | { phase: 'idle' }
  | { phase: 'sending'; file: string; sent: number; total: number }
  | { phase: 'storing'; file: string; total: number }
  | { phase: 'done'; result: IngestResultDto }
  | { phase: 'failed'; message: string };

/** Chosen here from the file name, never the browser's guess (which may be text/plain, or nothing). */
function contentTypeFor(file: File): string {
  return /\.(ndjson|jsonl|json)(\.gz)?$/i.test(file.name) ? 'application/x-ndjson' : 'text/csv';
}

/** crypto.randomUUID exists in secure contexts only; a console served over plain http is not one. */
function randomUuid(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function UploadPanel({ stream }: { stream: string }) {
  const [state, setState] = useState<State>({ phase: 'idle' });
  const request = useRef<XMLHttpRequest | null>(null);
  const router = useRouter();

  function upload(file: File) {
    const xhr = new XMLHttpRequest();
    request.current = xhr;
    xhr.open('POST', `/api/upload/${encodeURIComponent(stream)}`);
    xhr.setRequestHeader('content-type', contentTypeFor(file));
    // One key per chosen file: a retry of the same upload is recognised by the ingest service.
    xhr.setRequestHeader('idempotency-key', randomUuid());
    if (file.name.endsWith('.gz')) xhr.setRequestHeader('content-encoding', 'gzip');
    xhr.upload.onprogress = (event) => setState({ phase: 'sending', file: file.name, sent: event.loaded, total: event.total || file.size });
    xhr.upload.onload = () => setState({ phase: 'storing', file: file.name, total: file.size });
    xhr.onload = () => {
      request.current = null;
      try {
        const body = JSON.parse(xhr.responseText);
        if (xhr.status === 200) {
          setState({ phase: 'done', result: body });
          router.refresh(); // the files table below now lists what was written
        } else setState({ phase: 'failed', message: `${xhr.status}: ${body.error?.message ?? xhr.statusText}` });
      } catch {
        setState({ phase: 'failed', message: `The service answered ${xhr.status}.` });
      }
    };
    xhr.onerror = () => setState({ phase: 'failed', message: 'The upload failed: the connection was lost.' });
    xhr.onabort = () => setState({ phase: 'failed', message: 'Upload cancelled.' });
    setState({ phase: 'sending', file: file.name, sent: 0, total: file.size });
    xhr.send(file);
  }

  const busy = state.phase === 'sending' || state.phase === 'storing';
  const percent = state.phase === 'sending' ? Math.floor((state.sent / Math.max(state.total, 1)) * 100) : busy ? 100 : 0;
  return (
    <section className="stack" aria-label="Upload">
      <DropZone label="Upload drop zone" testId="upload-dropzone" disabled={busy} onFile={upload}>
        <p>Drop a CSV or NDJSON file (gzip too) to send it to this stream, or</p>
        <label className="button">
          Choose a file
          <input
            type="file"
            className="sr-only"
            disabled={busy}
            onChange={(event) => {
              const file = event.target.files?.[0];
              if (file) upload(file);
              event.target.value = '';
            }}
          />
        </label>
      </DropZone>

      {busy && (
        <div className="stack">
          <div className="row">
            <strong>{state.file}</strong>
            <span className="muted">
              {state.phase === 'sending'
                ? `${formatBytes(state.sent)} of ${formatBytes(state.total)} sent`
                : 'Sent; waiting for the rows to be stored…'}
            </span>
            <button type="button" className="danger" onClick={() => request.current?.abort()}>
              Cancel
            </button>
          </div>
          <div
            className="progress"
            role="progressbar"
            aria-label="Upload progress"
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={percent}
          >
            <div style={{ width: `${percent}%` }} />
          </div>
        </div>
      )}

      {state.phase === 'failed' && (
        <p role="alert" className="error">
          {state.message}
        </p>
      )}

      {state.phase === 'done' && (
        <div className="stack result" data-testid="upload-result">
          <p>
            <strong>{formatNumber(state.result.rowsAccepted)}</strong> rows stored,{' '}
            <strong>{formatNumber(state.result.rowsRejected)}</strong> rejected.
          </p>
          {state.result.errors.length > 0 && (
            <table>
              <caption>Rejected rows (first {state.result.errors.length})</caption>
              <thead>
                <tr>
                  <th className="num">Line</th>
                  <th>Column</th>
                  <th>Reason</th>
                </tr>
              </thead>
              <tbody>
                {state.result.errors.map((error) => (
                  <tr key={`${error.line}-${error.column}`}>
                    <td className="num">{error.line}</td>
                    <td>{error.column ?? '—'}</td>
                    <td>{error.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {state.result.files.length > 0 && (
            <ul>
              {state.result.files.map((key) => (
                <li key={key}>
                  <Link href={`/streams/${stream}/preview?key=${encodeURIComponent(key)}`}>{key}</Link>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
