/**
 * Streams a browser upload through to the ingest API. A Pages API route with the body parser off gives the
 * raw Node request, so the body is piped with backpressure (the socket is read only as fast as the ingest
 * service takes it) and never buffered; a cancelled upload destroys the request to the ingest service too.
 *
 * Not an App Router route handler: there `request.body` is read from the socket as fast as the client sends,
 * whatever the upstream takes. Measured with an 881 MB CSV through `fetch(..., { body: request.body, duplex:
 * 'half' })` to a reader taking 80 MB/s: next-server's RSS grew from 158 MB to 1,031 MB; through this route
 * it stays flat (measured 2026-12-01: a generated CSV sent with `curl -T`, next-server's VmRSS read from /proc
 * every 100 ms; see the README's Console section).
 * Nor may src/proxy.ts match this path: a proxy makes Next clone the body, cut at 10 MB.
 */
import http from 'node:http';
import https from 'node:https';
import { newId } from '@sluice/shared';
import type { NextApiRequest, NextApiResponse } from 'next';
import { env } from '../../../env';
import { ingestHeaders } from '../../../lib/ingest';
import { sameOrigin } from '../../../lib/request-origin';
import { verifyCookieSession } from '../../../lib/session';

export const config = { api: { bodyParser: false, responseLimit: false } };

/** The bodies the console sends (chosen by the upload panel, never the browser's guess); anything else is refused. */
const CONTENT_TYPES = new Set(['text/csv', 'application/x-ndjson']);

function headerSource(req: NextApiRequest) {
  return {
    get(name: string): string | null {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(', ') : (value ?? null);
    },
  };
}

export default async function upload(req: NextApiRequest, res: NextApiResponse) {
  const requestId = newId('req');
  const refuse = (status: number, code: string, message: string) => res.status(status).json({ error: { code, message, requestId } });
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    refuse(405, 'request.invalid', 'Use POST.');
    return;
  }
  const headers = headerSource(req);
  // The only state-changing route outside server actions (which get Next's own Origin check). SameSite=Lax
  // keeps the cookie off cross-site POSTs in current browsers, but not off same-site ones (a sibling
  // subdomain) nor in older browsers: check where the request came from.
  if (!sameOrigin(headers)) {
    refuse(403, 'auth.cross_origin', 'Uploads are accepted from this console only.');
    return;
  }
  if (!(await verifyCookieSession(headers, (name) => req.cookies[name]))) {
    refuse(401, 'auth.session_required', 'Please sign in.');
    return;
  }
  const contentType = req.headers['content-type'] ?? '';
  if (!CONTENT_TYPES.has(contentType.split(';')[0]!.trim().toLowerCase())) {
    refuse(415, 'ingest.unsupported_media_type', 'Send text/csv or application/x-ndjson.');
    return;
  }
  const stream = String(req.query.stream);
  const target = new URL(`/v1/streams/${encodeURIComponent(stream)}/rows`, env().INGEST_URL);
  const upstreamHeaders: Record<string, string> = { ...ingestHeaders(), 'content-type': contentType };
  for (const name of ['content-encoding', 'content-length', 'idempotency-key']) {
    const value = headers.get(name);
    if (value) upstreamHeaders[name] = value;
  }
  if (!upstreamHeaders['content-length']) upstreamHeaders['transfer-encoding'] = 'chunked';

  await new Promise<void>((resolve) => {
    const upstream = (target.protocol === 'https:' ? https : http).request(
      target,
      { method: 'POST', headers: upstreamHeaders },
      (answer) => {
        res.status(answer.statusCode ?? 502);
        res.setHeader('content-type', answer.headers['content-type'] ?? 'application/json');
        for (const name of ['retry-after', 'idempotency-replayed']) {
          const value = answer.headers[name];
          if (value) res.setHeader(name, value);
        }
        answer.pipe(res);
        answer.on('end', resolve);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) refuse(502, 'sink.unavailable', 'The ingest service could not be reached.');
      else res.end();
      resolve();
    });
    // The browser went away (cancel, closed tab): stop the upload to the ingest service as well.
    req.on('close', () => {
      if (!req.complete) upstream.destroy();
    });
    req.pipe(upstream);
  });
}
