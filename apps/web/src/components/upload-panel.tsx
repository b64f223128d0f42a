'use client';
/**
 * Drag-and-drop upload: the file goes to the ingest API as a stream (the browser reads it from disk as it
 * sends), with a progress bar for bytes sent, a cancel button, and the answer with rejected rows.
 *
 * Each chosen file gets one Idempotency-Key, kept for its retries: "Retry upload" after a failure or a cancel,
 * and the automatic ones after 409, 429 and 503 (honouring Retry-After), store only the rows not stored
 * yet, never a row twice.
 */
import type { IngestResultDto } from '@sluice/shared/browser';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useRef, useState } from 'react';
import { formatBytes, formatNumber } from '../lib/format';
import { DropZone } from './drop-zone';

/** A chosen file and its Idempotency-Key. */
interface Upload {
  file: File;
  key: string;
}

type State =
  | { phase: 'idle' }
  | { phase: 'sending'; file: string; sent: number; total: number }
  | { phase: 'storing'; file: string; total: number }
  | { phase: 'waiting'; file: string; seconds: number }
  | { phase: 'done'; result: IngestResultDto; replayed: boolean }
  | { phase: 'failed'; message: string; retry: Upload };

/** Answers that say "the same request again, a little later". */
const RETRIED_STATUSES = new Set([409, 429, 503]);
const AUTOMATIC_RETRIES = 5;

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
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const router = useRouter();

  function upload({ file, key }: Upload, attempt = 0) {
    const xhr = new XMLHttpRequest();
    request.current = xhr;
    xhr.open('POST', `/api/upload/${encodeURIComponent(stream)}`);
    xhr.setRequestHeader('content-type', contentTypeFor(file));
    xhr.setRequestHeader('idempotency-key', key);
    if (file.name.endsWith('.gz')) xhr.setRequestHeader('content-encoding', 'gzip');
    xhr.upload.onprogress = (event) => setState({ phase: 'sending', file: file.name, sent: event.loaded, total: event.total || file.size });
    xhr.upload.onload = () => setState({ phase: 'storing', file: file.name, total: file.size });
    xhr.onload = () => {
      request.current = null;
      try {
        const body = JSON.parse(xhr.responseText);
        if (xhr.status === 200) {
          setState({ phase: 'done', result: body, replayed: xhr.getResponseHeader('idempotency-replayed') === 'true' });
          router.refresh(); // the files table below now lists what was written
        } else if (RETRIED_STATUSES.has(xhr.status) && attempt < AUTOMATIC_RETRIES) {
          const seconds = Math.min(30, Number(xhr.getResponseHeader('retry-after')) || 2 ** attempt);
          setState({ phase: 'waiting', file: file.name, seconds });
          timer.current = setTimeout(() => upload({ file, key }, attempt + 1), seconds * 1000);
        } else setState({ phase: 'failed', message: `${xhr.status}: ${body.error?.message ?? xhr.statusText}`, retry: { file, key } });
      } catch {
        setState({ phase: 'failed', message: `The service answered ${xhr.status}.`, retry: { file, key } });
      }
    };
    xhr.onerror = () => setState({ phase: 'failed', message: 'The upload failed: the connection was lost.', retry: { file, key } });
    xhr.onabort = () => setState({ phase: 'failed', message: 'Upload cancelled.', retry: { file, key } });
    setState({ phase: 'sending', file: file.name, sent: 0, total: file.size });
    xhr.send(file);
  }

  function cancel() {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    request.current?.abort();
  }

  // A new file gets a new key; its retries keep it.
  const choose = (file: File) => upload({ file, key: randomUuid() });
  const busy = state.phase === 'sending' || state.phase === 'storing' || state.phase === 'waiting';
  const percent = state.phase === 'sending' ? Math.floor((state.sent / Math.max(state.total, 1)) * 100) : busy ? 100 : 0;
  return (
    <section className="stack" aria-label="Upload">
      <DropZone label="Upload drop zone" testId="upload-dropzone" disabled={busy} onFile={choose}>
        <p>Drop a CSV or NDJSON file (gzip too) to send it to this stream, or</p>
        <label className="button">
          Choose a file
          <input
            type="file"
            className="sr-only"
            disabled={busy}
            onChange={(event) => {
              const file = event.target.files?.[0];
              if (file) choose(file);
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
                : state.phase === 'waiting'
                  ? `The service is busy; trying again in ${state.seconds} s…`
                  : 'Sent; waiting for the rows to be stored…'}
            </span>
            <button type="button" className="danger" onClick={cancel}>
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
        <div className="row">
          <p role="alert" className="error">
            {state.message}
          </p>
          <button type="button" onClick={() => upload(state.retry)}>
            Retry upload
          </button>
        </div>
      )}

      {state.phase === 'done' && (
        <div className="stack result" data-testid="upload-result">
          <p>
            <strong>{formatNumber(state.result.rowsAccepted)}</strong> rows stored,{' '}
            <strong>{formatNumber(state.result.rowsRejected)}</strong> rejected.
            {state.result.rowsAlreadyStored > 0 &&
              ` ${formatNumber(state.result.rowsAlreadyStored)} of them were stored by an earlier attempt.`}
            {state.replayed && ' This upload had already been stored: nothing was stored again.'}
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
