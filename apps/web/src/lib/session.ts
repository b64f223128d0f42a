/**
 * Operator sessions: a random token in an httpOnly, SameSite=Lax cookie, signed with HMAC-SHA256;
 * only the token's SHA-256 is stored (Session table), so a database leak reveals no live session.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { newId } from '@sluice/shared';
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { env } from '../env';
import { db } from './db';

export const SESSION_COOKIE = 'sluice_session';

/** Without a configured secret, one per process: sessions then end when the console restarts. */
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

export async function startSession(operatorId: string): Promise<void> {
  const token = randomBytes(32).toString('base64url');
  const ttl = env().SESSION_TTL_HOURS * 3600 * 1000;
  const expiresAt = new Date(Date.now() + ttl);
  await db().session.create({ data: { id: newId('ses'), tokenHash: hash(token), operatorId, expiresAt } });
  await db().operator.update({ where: { id: operatorId }, data: { lastLoginAt: new Date() } });
  (await cookies()).set(SESSION_COOKIE, `${token}.${sign(token)}`, {
    httpOnly: true,
    sameSite: 'lax',
    secure: false,
    path: '/',
    expires: expiresAt,
  });
}

export interface CurrentOperator {
  id: string;
  email: string;
}

export async function currentOperator(): Promise<CurrentOperator | null> {
  return operatorFromCookie((await cookies()).get(SESSION_COOKIE)?.value);
}

/** The operator a session cookie value belongs to, if it is genuine and not expired. */
export async function operatorFromCookie(value: string | undefined): Promise<CurrentOperator | null> {
  if (!value) return null;
  const [token, signature] = value.split('.');
  if (!token || !signature) return null;
  const expected = Buffer.from(sign(token));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  const session = await db().session.findUnique({ where: { tokenHash: hash(token) }, include: { operator: true } });
  if (!session || session.expiresAt < new Date()) return null;
  return { id: session.operator.id, email: session.operator.email };
}

/** For pages and server actions: the operator, or a redirect to the login page. */
export async function requireOperator(): Promise<CurrentOperator> {
  const operator = await currentOperator();
  if (!operator) redirect('/login');
  return operator;
}

export async function endSession(): Promise<void> {
  const store = await cookies();
  const token = store.get(SESSION_COOKIE)?.value?.split('.')[0];
  if (token) await db().session.deleteMany({ where: { tokenHash: hash(token) } });
  store.delete(SESSION_COOKIE);
}
