'use server';
/**
 * Sign-in, first-run setup and sign-out. Server actions get Next's own CSRF check (the Origin of a
 * POST must match the Host), so they need no Origin check of their own; the upload route does.
 */
import { timingSafeEqual } from 'node:crypto';
import { clearLoginFailures, loginRetryAfter, recordLoginFailure } from '@sluice/db';
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { z } from 'zod';
import { env } from '../../env';
import { db } from '../../lib/db';
import { checkCredentials, hasOperator, setUpFirstOperator } from '../../lib/operators';
import { clientAddress } from '../../lib/request-origin';
import { endSession, startSession } from '../../lib/session';

export interface FormState {
  error?: string;
  /** Given back so the form keeps it after a failed attempt. */
  email?: string;
  /** Seconds until sign-in may be tried again, when throttled (what a Retry-After header would say). */
  retryAfter?: number;
}

const credentials = z.object({
  email: z.string().trim().email('Enter a valid email address.'),
  password: z.string().min(8, 'The password needs at least 8 characters.'),
});

export async function login(_state: FormState, form: FormData): Promise<FormState> {
  const parsed = credentials.safeParse({ email: form.get('email'), password: form.get('password') });
  const email = String(form.get('email') ?? '');
  if (!parsed.success) return { error: parsed.error.issues[0]?.message, email };
  const accountKey = `email:${parsed.data.email.toLowerCase()}`;
  const keys = [`ip:${clientAddress(await headers())}`, accountKey];
  // Checked before the password, so a throttled guess costs no scrypt and tells nothing, right or wrong.
  const retryAfter = await loginRetryAfter(db(), keys);
  if (retryAfter > 0) {
    const minutes = Math.ceil(retryAfter / 60);
    return { error: `Too many attempts, try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, email, retryAfter };
  }
  const operatorId = await checkCredentials(parsed.data.email, parsed.data.password);
  if (!operatorId) {
    await recordLoginFailure(db(), keys);
    return { error: 'Email or password is incorrect.', email };
  }
  await clearLoginFailures(db(), [accountKey]);
  await startSession(operatorId);
  redirect('/');
}

function setupTokenMatches(given: FormDataEntryValue | null): boolean {
  const expected = env().SLUICE_SETUP_TOKEN;
  if (!expected) return true;
  const a = Buffer.from(String(given ?? ''));
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function setup(_state: FormState, form: FormData): Promise<FormState> {
  if (await hasOperator()) redirect('/login');
  const parsed = credentials.safeParse({ email: form.get('email'), password: form.get('password') });
  const email = String(form.get('email') ?? '');
  if (!parsed.success) return { error: parsed.error.issues[0]?.message, email };
  if (form.get('password') !== form.get('confirm')) return { error: 'The passwords do not match.', email };
  if (!setupTokenMatches(form.get('token'))) return { error: 'The setup token is not the one this console was started with.', email };
  const operatorId = await setUpFirstOperator(parsed.data.email, parsed.data.password);
  if (!operatorId) redirect('/login'); // another setup created the first operator a moment earlier
  await startSession(operatorId);
  redirect('/');
}

export async function logout(): Promise<void> {
  await endSession();
  redirect('/login');
}
