/** Operator accounts: the first one from the setup page or SLUICE_ADMIN_EMAIL / SLUICE_ADMIN_PASSWORD. */
import { createFirstOperator, hashPassword, verifyPassword } from '@sluice/db';
import { env } from '../env';
import { db } from './db';

export async function hasOperator(): Promise<boolean> {
  await ensureConfiguredOperator();
  return (await db().operator.count()) > 0;
}

/** Creates the operator named by the environment on first run, if none exists yet. */
async function ensureConfiguredOperator(): Promise<void> {
  const { SLUICE_ADMIN_EMAIL: email, SLUICE_ADMIN_PASSWORD: password } = env();
  if (!email || !password) return;
  if ((await db().operator.count()) > 0) return;
  await createFirstOperator(db(), email, password);
}

/** The new operator's id, or null when another setup created the first operator first. */
export async function setUpFirstOperator(email: string, password: string): Promise<string | null> {
  return createFirstOperator(db(), email, password);
}

export async function checkCredentials(email: string, password: string): Promise<string | null> {
  const operator = await db().operator.findUnique({ where: { email: email.toLowerCase() } });
  if (!operator) {
    await hashPassword(password); // same time whether or not the account exists
    return null;
  }
  return (await verifyPassword(password, operator.passwordHash)) ? operator.id : null;
}
