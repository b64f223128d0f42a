/**
 * Streams a browser upload through to the ingest API. A Pages API route with the body parser off gives the
 * raw Node request, so the body is piped with backpressure (the socket is read only as fast as the ingest
 * service takes it) and never buffered; a cancelled upload destroys the request to the ingest service too.
 */
import http from 'node:http';
import https from 'node:https';
import type { NextApiRequest, NextApiResponse } from 'next';
import { env } from '../../../env';
import { ingestHeaders } from '../../../lib/ingest';
import { operatorFromCookie, SESSION_COOKIE } from '../../../lib/session';

export const config = { api: { bodyParser: false, responseLimit: false } };

export default async function upload(req: NextApiRequest, res: NextApiResponse) {
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    res.status(405).json({ error: { code: 'request.invalid', message: 'Use POST.', requestId: '' } });
    return;
  }
  if (!(await operatorFromCookie(req.cookies[SESSION_COOKIE]))) {
    res.status(401).json({ error: { code: 'auth.session_required', message: 'Please sign in.', requestId: '' } });
    return;
  }
  const stream = String(req.query.stream);
  const target = new URL(`/v1/streams/${encodeURIComponent(stream)}/rows`, env().INGEST_URL);
  const headers: Record<string, string> = { ...ingestHeaders(), 'content-type': req.headers['content-type'] ?? 'text/csv' };
  if (req.headers['content-encoding']) headers['content-encoding'] = String(req.headers['content-encoding']);
  if (req.headers['content-length']) headers['content-length'] = String(req.headers['content-length']);
  else headers['transfer-encoding'] = 'chunked';

  await new Promise<void>((resolve) => {
    const upstream = (target.protocol === 'https:' ? https : http).request(target, { method: 'POST', headers }, (answer) => {
      res.status(answer.statusCode ?? 502);
      res.setHeader('content-type', answer.headers['content-type'] ?? 'application/json');
      answer.pipe(res);
      answer.on('end', resolve);
    });
    upstream.on('error', () => {
      if (!res.headersSent) {
        res.status(502).json({ error: { code: 'sink.unavailable', message: 'The ingest service could not be reached.', requestId: '' } });
      } else res.end();
      resolve();
    });
    // The browser went away (cancel, closed tab): stop the upload to the ingest service as well.
    req.on('close', () => {
      if (!req.complete) upstream.destroy();
    });
    req.pipe(upstream);
  });
}
