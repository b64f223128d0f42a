/** The first operator account: created by the setup page or from SLUICE_ADMIN_EMAIL, once. */
import { newId } from '@sluice/shared';
import type { Db } from '../client';
import { hashPassword } from '../password';

/** Any fixed number: every first-operator setup, on every console replica, takes this one lock. */
const SETUP_LOCK = 0x51_1c_e0_01;

/**
 * Creates the first operator unless one exists; returns its id, or null when another setup won.
 * Count and insert run under one transaction-scoped advisory lock, so concurrent setups (two browsers,
 * two replicas) are serialised and only the first creates an account. The password is hashed before the
 * lock is taken, so the lock is held for two queries only.
 */
export async function createFirstOperator(db: Db, email: string, password: string): Promise<string | null> {
  const passwordHash = await hashPassword(password);
  return db.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${SETUP_LOCK})`);
    if ((await tx.operator.count()) > 0) return null;
    const operator = await tx.operator.create({ data: { id: newId('op'), email: email.toLowerCase(), passwordHash } });
    return operator.id;
  });
}
