'use client';
import { useActionState } from 'react';
import type { FormState } from '../app/actions/auth';

export function AuthForm({
  action,
  submitLabel,
  confirm = false,
  setupToken = false,
}: {
  action: (state: FormState, form: FormData) => Promise<FormState>;
  submitLabel: string;
  confirm?: boolean;
  /** Ask for the setup token the console was started with (SLUICE_SETUP_TOKEN). */
  setupToken?: boolean;
}) {
  const [state, formAction, pending] = useActionState(action, {});
  return (
    <form action={formAction} className="stack">
      <label>
        Email
        <input name="email" type="email" autoComplete="email" required defaultValue={state.email} key={state.email ?? ''} />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete={confirm ? 'new-password' : 'current-password'} required minLength={8} />
      </label>
      {confirm && (
        <label>
          Confirm password
          <input name="confirm" type="password" autoComplete="new-password" required minLength={8} />
        </label>
      )}
      {setupToken && (
        <label>
          Setup token
          <input name="token" type="password" autoComplete="off" required />
          <span className="muted small">Printed by npm start, or the SLUICE_SETUP_TOKEN the console was started with.</span>
        </label>
      )}
      {state.error && (
        <p role="alert" className="error" data-retry-after={state.retryAfter}>
          {state.error}
        </p>
      )}
      <button type="submit" className="primary" disabled={pending}>
        {pending ? 'Please wait…' : submitLabel}
      </button>
    </form>
  );
}
