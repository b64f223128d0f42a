/**
 * Streams a browser upload through to the ingest API: the body is piped, never buffered, and a
 * cancelled upload aborts the request to the ingest service too.
 */
import { env } from '../../../../env';
import { operatorOr401 } from '../../../../lib/api-auth';
import { ingestHeaders } from '../../../../lib/ingest';

export const dynamic = 'force-dynamic';

export async function POST(request: Request, { params }: { params: Promise<{ stream: string }> }) {
  const operator = await operatorOr401();
  if (operator instanceof Response) return operator;
  const { stream } = await params;
  const headers: Record<string, string> = { ...ingestHeaders(), 'content-type': request.headers.get('content-type') ?? 'text/csv' };
  const encoding = request.headers.get('content-encoding');
  if (encoding) headers['content-encoding'] = encoding;
  const upstream = await fetch(`${env().INGEST_URL}/v1/streams/${encodeURIComponent(stream)}/rows`, {
    method: 'POST',
    headers,
    body: request.body,
    signal: request.signal,
    duplex: 'half',
  } as RequestInit);
  return new Response(upstream.body, { status: upstream.status, headers: { 'content-type': 'application/json' } });
}
