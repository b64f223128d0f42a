/**
 * Console sessions in Postgres. The console keeps the token in a signed cookie and passes only its
 * SHA-256 here. A session ends at its absolute expiry or after `idleMs` without use; its last use is
 * written at most once a minute, so a busy console does not write on every request.
 */
import { newId } from '@sluice/shared';
import type { Db } from '../client';

const TOUCH_EVERY_MS = 60_000;

export interface ActiveSession {
  id: string;
  operator: { id: string; email: string };
}

export async function createSession(db: Db, input: { operatorId: string; tokenHash: string; expiresAt: Date }): Promise<string> {
  const id = newId('ses');
  await db.session.create({ data: { id, ...input } });
  return id;
}

export async function findActiveSession(db: Db, tokenHash: string, idleMs: number, now = new Date()): Promise<ActiveSession | null> {
  const session = await db.session.findUnique({ where: { tokenHash }, include: { operator: true } });
  if (!session) return null;
  if (session.expiresAt <= now || session.lastSeenAt.getTime() + idleMs <= now.getTime()) {
    await db.session.deleteMany({ where: { id: session.id } });
    return null;
  }
  if (now.getTime() - session.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
    await db.session.updateMany({ where: { id: session.id }, data: { lastSeenAt: now } });
  }
  return { id: session.id, operator: { id: session.operator.id, email: session.operator.email } };
}

export async function listSessions(db: Db, operatorId: string) {
  return db.session.findMany({
    where: { operatorId },
    orderBy: { lastSeenAt: 'desc' },
    select: { id: true, createdAt: true, lastSeenAt: true, expiresAt: true },
  });
}

/** Ends every session of the operator but the one given (sign out everywhere else). */
export async function endOtherSessions(db: Db, operatorId: string, keepSessionId: string): Promise<number> {
  const { count } = await db.session.deleteMany({ where: { operatorId, id: { not: keepSessionId } } });
  return count;
}

/** Drops sessions past their expiry or idle for longer than `idleMs`. */
export async function purgeExpiredSessions(db: Db, idleMs: number, now = new Date()): Promise<number> {
  const { count } = await db.session.deleteMany({
    where: { OR: [{ expiresAt: { lte: now } }, { lastSeenAt: { lte: new Date(now.getTime() - idleMs) } }] },
  });
  return count;
}
