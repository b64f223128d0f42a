/**
 * Operator sessions: a random token in an httpOnly, SameSite=Lax cookie, signed with HMAC-SHA256;
 * only the token's SHA-256 is stored (Session table), so a database leak reveals no live session.
 * Over HTTPS the cookie is Secure and named `__Host-sluice_session` (the prefix makes browsers refuse it
 * unless it is Secure, host-only and Path=/, so a sibling subdomain cannot plant one); over plain http a
 * browser would drop a `__Host-` cookie, so the name is then `sluice_session`.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSession, findActiveSession, purgeExpiredSessions } from '@sluice/db';
import { cookies, headers } from 'next/headers';
import { env } from '../env';
import { db } from './db';
import { requestIsSecure } from './request-origin';

export const SECURE_SESSION_COOKIE = '__Host-sluice_session';
export const PLAIN_SESSION_COOKIE = 'sluice_session';

export function sessionCookieName(secure: boolean): string {
  return secure ? SECURE_SESSION_COOKIE : PLAIN_SESSION_COOKIE;
}

/** Without a configured secret (development only: env.ts requires one in production), one per process. */
const holder = globalThis as unknown as { sluiceSessionSecret?: string };
function secret(): string {
  holder.sluiceSessionSecret ??= env().SLUICE_SESSION_SECRET ?? randomBytes(32).toString('hex');
  return holder.sluiceSessionSecret;
}

function sign(token: string): string {
  return createHmac('sha256', secret()).update(token).digest('base64url');
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function idleMs(): number {
  return env().SESSION_IDLE_HOURS * 3600 * 1000;
}

export async function startSession(operatorId: string): Promise<void> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + env().SESSION_TTL_HOURS * 3600 * 1000);
  await purgeExpiredSessions(db(), idleMs());
  await createSession(db(), { operatorId, tokenHash: hash(token), expiresAt });
  await db().operator.update({ where: { id: operatorId }, data: { lastLoginAt: new Date() } });
  const secure = requestIsSecure(await headers());
  (await cookies()).set(sessionCookieName(secure), `${token}.${sign(token)}`, {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
    expires: expiresAt,
  });
}

export interface CurrentOperator {
  id: string;
  email: string;
  /** The session this request is signed in with. */
  sessionId: string;
}

/** The operator of this request's session cookie, if it is genuine, not expired and not idle too long. */
export async function currentOperator(): Promise<CurrentOperator | null> {
  const store = await cookies();
  return verifyCookieSession(await headers(), (name) => store.get(name)?.value);
}

/** The same check from plain headers and cookies (the Pages upload route has no next/headers). */
export function verifyCookieSession(headerSource: { get(name: string): string | null }, cookie: (name: string) => string | undefined) {
  return operatorFromCookie(cookie(sessionCookieName(requestIsSecure(headerSource))));
}

export async function operatorFromCookie(value: string | undefined): Promise<CurrentOperator | null> {
  if (!value) return null;
  const [token, signature] = value.split('.');
  if (!token || !signature) return null;
  const expected = Buffer.from(sign(token));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  const session = await findActiveSession(db(), hash(token), idleMs());
  return session ? { ...session.operator, sessionId: session.id } : null;
}

export async function endSession(): Promise<void> {
  const store = await cookies();
  const secure = requestIsSecure(await headers());
  const name = sessionCookieName(secure);
  const token = store.get(name)?.value?.split('.')[0];
  if (token) await db().session.deleteMany({ where: { tokenHash: hash(token) } });
  // Not store.delete(name): its Set-Cookie has no Secure attribute, and browsers ignore a __Host- cookie without it.
  store.set(name, '', { httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: 0 });
}
