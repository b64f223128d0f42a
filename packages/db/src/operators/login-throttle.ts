/**
 * Console sign-in throttling. Failed attempts are rows in Postgres (LoginAttempt), one per key they count
 * against (`ip:<address>`, `email:<address>`), so every console replica sees the same counts. Once a key
 * has `maxFailures` failures inside the window, sign-in for it is refused until the oldest of those ages
 * out, whatever the password, so guessing costs the attacker time and not us an scrypt per try.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../client';

export interface LoginThrottleOptions {
  maxFailures: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = { maxFailures: 10, windowMs: 15 * 60 * 1000 };

/** Seconds until every key may try again: 0 when none is throttled. */
export async function loginRetryAfter(db: Db, keys: string[], options = DEFAULT_LOGIN_THROTTLE, now = new Date()): Promise<number> {
  const since = new Date(now.getTime() - options.windowMs);
  let retryAt = 0;
  for (const key of keys) {
    const recent = await db.loginAttempt.findMany({
      where: { key, at: { gt: since } },
      orderBy: { at: 'desc' },
      take: options.maxFailures,
      select: { at: true },
    });
    // Throttled until the max-th most recent failure leaves the window.
    if (recent.length >= options.maxFailures) retryAt = Math.max(retryAt, recent[options.maxFailures - 1]!.at.getTime() + options.windowMs);
  }
  return retryAt > now.getTime() ? Math.ceil((retryAt - now.getTime()) / 1000) : 0;
}

/** Records one failed attempt against each key, and drops attempts older than the window. */
export async function recordLoginFailure(db: Db, keys: string[], options = DEFAULT_LOGIN_THROTTLE, now = new Date()): Promise<void> {
  await db.loginAttempt.createMany({ data: keys.map((key) => ({ id: `la_${randomUUID()}`, key, at: now })) });
  await db.loginAttempt.deleteMany({ where: { at: { lt: new Date(now.getTime() - options.windowMs) } } });
}

/** A successful sign-in clears the account's failures (not the address's: it may be guessing others). */
export async function clearLoginFailures(db: Db, keys: string[]): Promise<void> {
  await db.loginAttempt.deleteMany({ where: { key: { in: keys } } });
}
