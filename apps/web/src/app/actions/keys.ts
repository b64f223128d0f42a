'use server';
/** API keys from the console: created (plaintext returned once), revoked. */
import { createApiKey, revokeApiKey } from '@sluice/db';
import { isSluiceError, type ApiKeyScope, type CreatedApiKeyDto } from '@sluice/shared';
import { revalidatePath } from 'next/cache';
import { db } from '../../lib/db';
import { verifySession } from '../../lib/dal';

export async function createKeyAction(input: {
  name: string;
  streams: string[] | '*';
  scopes: ApiKeyScope[];
}): Promise<{ ok: true; key: CreatedApiKeyDto } | { ok: false; error: string }> {
  await verifySession();
  try {
    const key = await createApiKey(db(), input);
    revalidatePath('/keys');
    return { ok: true, key };
  } catch (error) {
    if (isSluiceError(error)) return { ok: false, error: error.message };
    throw error;
  }
}

export async function revokeKeyAction(id: string): Promise<void> {
  await verifySession();
  await revokeApiKey(db(), id);
  revalidatePath('/keys');
}
