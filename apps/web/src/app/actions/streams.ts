'use server';
/** Streams and schema versions from the console: the same control-plane operations as the admin API. */
import { addSchemaVersion, createStream, retryFailedClickHouseFiles } from '@sluice/db';
import { isSluiceError } from '@sluice/shared';
import { revalidatePath } from 'next/cache';
import { db } from '../../lib/db';
import { verifySession } from '../../lib/dal';

export type ActionResult = { ok: true; name?: string } | { ok: false; error: string };

function failure(error: unknown): ActionResult {
  if (isSluiceError(error)) return { ok: false, error: error.message };
  throw error;
}

export async function createStreamAction(definition: unknown): Promise<ActionResult> {
  await verifySession();
  try {
    const stream = await createStream(db(), definition);
    revalidatePath('/');
    return { ok: true, name: stream.name };
  } catch (error) {
    return failure(error);
  }
}

export async function addSchemaVersionAction(name: string, schema: unknown): Promise<ActionResult> {
  await verifySession();
  try {
    await addSchemaVersion(db(), name, schema);
    revalidatePath(`/streams/${name}`);
    return { ok: true };
  } catch (error) {
    return failure(error);
  }
}

/** A stream's files that ClickHouse refused too often go to the forwarder again (it picks them up at its next poll). */
export async function retryClickHouseAction(name: string): Promise<void> {
  await verifySession();
  await retryFailedClickHouseFiles(db(), name);
  revalidatePath(`/streams/${name}`);
}
