/** A stream's rejected rows (its quarantine table) as a CSV or NDJSON download, streamed from the ingest service. */
import { verifyApiSession } from '../../../../../../lib/dal';
import { env } from '../../../../../../env';
import { ingestHeaders } from '../../../../../../lib/ingest';

export const dynamic = 'force-dynamic';

export async function GET(request: Request, { params }: { params: Promise<{ name: string }> }): Promise<Response> {
  const operator = await verifyApiSession();
  if (operator instanceof Response) return operator;
  const { name } = await params;
  const asked = new URL(request.url).searchParams;
  const format = asked.get('format') === 'ndjson' ? 'ndjson' : 'csv';
  const query = new URLSearchParams({ format });
  for (const filter of ['code', 'request']) {
    const value = asked.get(filter);
    if (value) query.set(filter, value);
  }
  const upstream = await fetch(`${env().INGEST_URL}/v1/streams/${encodeURIComponent(name)}/quarantine?${query}`, {
    headers: ingestHeaders(),
    cache: 'no-store',
  });
  if (!upstream.ok || !upstream.body)
    return new Response(upstream.body, { status: upstream.status, headers: { 'content-type': 'application/json' } });
  return new Response(upstream.body, {
    headers: {
      'content-type': upstream.headers.get('content-type') ?? 'text/plain',
      'content-disposition': `attachment; filename="${name}-quarantine.${format}"`,
    },
  });
}
