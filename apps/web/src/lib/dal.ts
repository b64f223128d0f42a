/**
 * The data-access layer's gate: every page, route handler and server action asks here who is signed in,
 * itself. Layouts are not rendered again on client navigation, so a page's RSC payload can be requested
 * without its layout running: a check in the layout alone protects nothing. The lookup is cached per
 * request (React `cache`), so a page, its layout and their components verify once.
 */
import { cache } from 'react';
import { redirect } from 'next/navigation';
import { type CurrentOperator, currentOperator } from './session';

export const readSession = cache(currentOperator);

/** For pages and server actions: the signed-in operator, or a redirect to the login page. */
export async function verifySession(): Promise<CurrentOperator> {
  const operator = await readSession();
  if (!operator) redirect('/login');
  return operator;
}

/** For route handlers: the signed-in operator, or a 401 in the shared error shape (no redirect). */
export async function verifyApiSession(): Promise<CurrentOperator | Response> {
  const operator = await readSession();
  if (operator) return operator;
  return Response.json({ error: { code: 'auth.session_required', message: 'Please sign in.', requestId: '' } }, { status: 401 });
}
