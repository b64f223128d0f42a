'use client';

export default function ConsoleError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div className="empty" role="alert">
      <p>Something went wrong while loading this page.</p>
      <p className="muted small">{error.digest ? `Reference: ${error.digest}` : error.message}</p>
      <button type="button" onClick={reset}>
        Try again
      </button>
    </div>
  );
}
