'use server';
/** Sign-in, first-run setup and sign-out. */
import { redirect } from 'next/navigation';
import { z } from 'zod';
import { checkCredentials, createFirstOperator, hasOperator } from '../../lib/operators';
import { endSession, startSession } from '../../lib/session';

export interface FormState {
  error?: string;
  /** Given back so the form keeps it after a failed attempt. */
  email?: string;
}

const credentials = z.object({
  email: z.string().trim().email('Enter a valid email address.'),
  password: z.string().min(8, 'The password needs at least 8 characters.'),
});

export async function login(_state: FormState, form: FormData): Promise<FormState> {
  const parsed = credentials.safeParse({ email: form.get('email'), password: form.get('password') });
  const email = String(form.get('email') ?? '');
  if (!parsed.success) return { error: parsed.error.issues[0]?.message, email };
  const operatorId = await checkCredentials(parsed.data.email, parsed.data.password);
  if (!operatorId) return { error: 'Email or password is incorrect.', email };
  await startSession(operatorId);
  redirect('/');
}

export async function setup(_state: FormState, form: FormData): Promise<FormState> {
  if (await hasOperator()) redirect('/login');
  const parsed = credentials.safeParse({ email: form.get('email'), password: form.get('password') });
  const email = String(form.get('email') ?? '');
  if (!parsed.success) return { error: parsed.error.issues[0]?.message, email };
  if (form.get('password') !== form.get('confirm')) return { error: 'The passwords do not match.', email };
  const operatorId = await createFirstOperator(parsed.data.email, parsed.data.password);
  await startSession(operatorId);
  redirect('/');
}

export async function logout(): Promise<void> {
  await endSession();
  redirect('/login');
}
