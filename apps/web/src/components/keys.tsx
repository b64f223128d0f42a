'use client';
/** Creating a key (its plaintext shown once, with a copy button) and revoking one, with a confirmation. */
import type { ApiKeyScope, CreatedApiKeyDto } from '@sluice/shared/browser';
import { useRouter } from 'next/navigation';
import { useState, useTransition } from 'react';
import { createKeyAction, revokeKeyAction } from '../app/actions/keys';
import { CopyButton } from './copy-button';

/** What a key may do: producers get ingest only, so a leaked producer key does not also read the data. */
const ACCESS: { label: string; scopes: ApiKeyScope[] }[] = [
  { label: 'Send rows (ingest)', scopes: ['ingest'] },
  { label: 'Read files (read)', scopes: ['read'] },
  { label: 'Both', scopes: ['ingest', 'read'] },
];

export function KeyCreator({ streams }: { streams: string[] }) {
  const router = useRouter();
  const [name, setName] = useState('');
  const [all, setAll] = useState(true);
  const [chosen, setChosen] = useState<string[]>([]);
  const [access, setAccess] = useState(0);
  const [created, setCreated] = useState<CreatedApiKeyDto | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  function submit() {
    setError(null);
    startTransition(async () => {
      const result = await createKeyAction({ name, streams: all ? '*' : chosen, scopes: ACCESS[access]!.scopes });
      if (!result.ok) return setError(result.error);
      setCreated(result.key);
      setName('');
      router.refresh();
    });
  }

  return (
    <section className="panel stack" aria-label="Create an API key">
      {created && (
        <div className="notice" role="status">
          <p>
            <strong>Copy the key now.</strong> It is shown only this once; Sluice keeps only a hash of it.
          </p>
          <div className="row">
            <code data-testid="new-key">{created.key}</code>
            <CopyButton text={created.key} />
            <button type="button" className="link" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <div className="row wrap">
        <label>
          Key name
          <input value={name} onChange={(event) => setName(event.target.value)} placeholder="billing-exporter" />
        </label>
        <fieldset className="row">
          <legend>Streams</legend>
          <label className="inline">
            <input type="radio" name="scope" checked={all} onChange={() => setAll(true)} /> All streams
          </label>
          <label className="inline">
            <input type="radio" name="scope" checked={!all} onChange={() => setAll(false)} /> Chosen streams
          </label>
          {!all &&
            streams.map((stream) => (
              <label key={stream} className="inline">
                <input
                  type="checkbox"
                  checked={chosen.includes(stream)}
                  onChange={(event) => setChosen(event.target.checked ? [...chosen, stream] : chosen.filter((s) => s !== stream))}
                />{' '}
                {stream}
              </label>
            ))}
        </fieldset>
        <fieldset className="row">
          <legend>Access</legend>
          {ACCESS.map((option, index) => (
            <label key={option.label} className="inline">
              <input type="radio" name="access" checked={access === index} onChange={() => setAccess(index)} /> {option.label}
            </label>
          ))}
        </fieldset>
        <button type="button" className="primary" onClick={submit} disabled={pending || !name.trim()}>
          Create key
        </button>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </section>
  );
}

export function RevokeButton({ id, name }: { id: string; name: string }) {
  const router = useRouter();
  const [confirming, setConfirming] = useState(false);
  const [pending, startTransition] = useTransition();
  if (!confirming) {
    return (
      <button type="button" className="danger" onClick={() => setConfirming(true)}>
        Revoke
      </button>
    );
  }
  return (
    <fieldset className="row" aria-label={`Confirm revoking ${name}`}>
      <span className="small">Producers using it will get 401.</span>
      <button
        type="button"
        className="danger"
        disabled={pending}
        onClick={() =>
          startTransition(async () => {
            await revokeKeyAction(id);
            router.refresh();
          })
        }
      >
        Yes, revoke {name}
      </button>
      <button type="button" className="link" onClick={() => setConfirming(false)}>
        Keep it
      </button>
    </fieldset>
  );
}
