'use server';
/** The signed-in operator's own sessions. */
import { endOtherSessions } from '@sluice/db';
import { revalidatePath } from 'next/cache';
import { verifySession } from '../../lib/dal';
import { db } from '../../lib/db';

export async function endOtherSessionsAction(): Promise<void> {
  const operator = await verifySession();
  await endOtherSessions(db(), operator.id, operator.sessionId);
  revalidatePath('/account');
}
