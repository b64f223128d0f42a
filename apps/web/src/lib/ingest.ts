/** Server-side calls from the console to the ingest service, with the admin token. */
import { SluiceError } from '@sluice/shared';
import { env } from '../env';

export function ingestHeaders(): Record<string, string> {
  const token = env().SLUICE_ADMIN_TOKEN;
  if (!token) throw new SluiceError('admin.disabled', 'The console needs SLUICE_ADMIN_TOKEN to reach the ingest service.');
  return { authorization: `Bearer ${token}` };
}

export async function ingestJson<T>(path: string): Promise<T> {
  const response = await fetch(`${env().INGEST_URL}${path}`, { headers: ingestHeaders(), cache: 'no-store' });
  const body = await response.json();
  if (!response.ok) throw new Error(body?.error?.message ?? `ingest answered ${response.status}`);
  return body as T;
}
