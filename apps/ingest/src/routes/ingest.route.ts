/**
 * POST /v1/streams/:stream/rows: a CSV or NDJSON body, streamed (never held whole), answered once every
 * accepted row is durable. Everything that can refuse a request happens before its body is read:
 * auth (401/403), stream (404), content type and encoding (415), declared size (413), shutdown (503) and
 * admission against the byte budget (429 + Retry-After).
 */
import { SluiceError, type IngestResultDto } from '@sluice/shared';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { BodyFormat } from '../pipeline/protocol';
import type { StreamCache } from '../plugins/stream-cache';
import { InFlight } from './in-flight';
import { requestBody } from './request-body';

const CSV_TYPES = new Set(['text/csv', 'application/csv', 'text/plain']);
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/json-lines']);

function formatOf(contentType: string | undefined): BodyFormat {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (CSV_TYPES.has(type)) return 'csv';
  if (NDJSON_TYPES.has(type)) return 'ndjson';
  throw new SluiceError(
    'ingest.unsupported_media_type',
    `Content-Type "${type || '(none)'}" is not accepted: send text/csv or application/x-ndjson.`,
  );
}

function gzipped(encoding: string | undefined): boolean {
  const value = (encoding ?? 'identity').trim().toLowerCase();
  if (value === 'identity' || value === '') return false;
  if (value === 'gzip' || value === 'x-gzip') return true;
  throw new SluiceError('ingest.unsupported_encoding', `Content-Encoding "${value}" is not accepted: send gzip or nothing.`);
}

/**
 * After a refusal the rest of the body is still on its way. Reading and discarding it (up to a point)
 * lets the producer finish sending and read the answer, instead of failing with a broken pipe; past
 * LINGER_BYTES, or when the body goes quiet for the idle timeout, the connection is closed rather than
 * drain gigabytes (or wait) for nothing. The answer itself says `Connection: close` (see app.ts), so no
 * client reuses a socket that is about to go.
 */
const LINGER_BYTES = 16 * 1024 * 1024;

function drainRefusedBody(request: FastifyRequest, idleTimeoutMs: number) {
  const body = request.raw;
  if (body.complete) return;
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  const close = () => body.socket?.destroy();
  if (declared > LINGER_BYTES) return; // Node closes the connection once the answer is sent
  const idle = setTimeout(close, idleTimeoutMs);
  let discarded = 0;
  body.on('data', (piece: Buffer) => {
    discarded += piece.length;
    if (discarded > LINGER_BYTES) close();
    else idle.refresh();
  });
  body.once('close', () => clearTimeout(idle));
  body.resume();
}

/** How often a request in flight checks that its key was not revoked meanwhile. */
const KEY_CHECK_INTERVAL_MS = 1000;

/**
 * The body, cut off with 401 once its key has been revoked: a long request does not go on storing rows
 * for a key an operator has taken back (the check reads through the key cache: KEY_CACHE_TTL_MS).
 */
async function* whileKeyValid(body: AsyncIterable<Uint8Array>, stillValid: () => Promise<boolean>): AsyncIterable<Uint8Array> {
  let checkedAt = Date.now();
  for await (const piece of body) {
    if (Date.now() - checkedAt >= KEY_CHECK_INTERVAL_MS) {
      checkedAt = Date.now();
      if (!(await stillValid())) throw new SluiceError('auth.revoked_key');
    }
    yield piece;
  }
  if (!(await stillValid())) throw new SluiceError('auth.revoked_key');
}

export function ingestRoutes(streams: StreamCache): FastifyPluginAsync {
  return async (app) => {
    const { connections, limits, queue } = app.config;
    const inFlight = new InFlight(connections.maxRequests, connections.maxRequestsPerKey);
    // The body is read by the handler as a stream: no buffering parser for any content type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));

    app.addHook('onError', async (request) => drainRefusedBody(request, connections.idleTimeoutMs));

    app.post(
      '/v1/streams/:stream/rows',
      {
        schema: {
          summary: 'Ingest rows',
          description:
            'Streams a CSV (text/csv, header row required) or NDJSON (application/x-ndjson) body into the stream. ' +
            'Content-Encoding: gzip is accepted. Answers once every accepted row is durably stored.',
          tags: ['ingest'],
          params: z.object({ stream: z.string() }),
          security: [{ apiKey: [] }],
        },
      },
      async (request, reply) => {
        const { stream: name } = request.params as { stream: string };
        // The admin token may write to any stream (the console's uploads use it); keys only to theirs.
        const caller = await app.auth.requireStreamAccess(request, name, 'ingest');
        const stream = await streams.get(name);
        const format = formatOf(request.headers['content-type']);
        const gzip = gzipped(request.headers['content-encoding']);
        const declared = Number(request.headers['content-length'] ?? Number.NaN);
        if (declared > limits.maxBodyBytes) {
          throw new SluiceError('ingest.payload_too_large', `The body is larger than ${limits.maxBodyBytes} bytes (MAX_BODY_BYTES).`);
        }
        if (app.draining) {
          app.metrics.rejectedRequests.inc({ reason: 'shutting_down' });
          throw new SluiceError('service.shutting_down', undefined, {
            headers: { 'retry-after': String(queue.retryAfterSeconds) },
          });
        }
        if (!app.budget.admits()) {
          app.metrics.rejectedRequests.inc({ reason: 'busy' });
          throw new SluiceError('ingest.busy', undefined, {
            headers: { 'retry-after': String(queue.retryAfterSeconds) },
          });
        }

        const holder = caller.kind === 'key' ? caller.key.id : 'admin';
        if (!inFlight.enter(holder)) {
          app.metrics.rejectedRequests.inc({ reason: 'too_many_requests' });
          throw new SluiceError('ingest.too_many_requests', undefined, {
            headers: { 'retry-after': String(queue.retryAfterSeconds) },
          });
        }

        app.metrics.queueLength.inc();
        try {
          let rows = requestBody(request.raw, gzip, { idleTimeoutMs: connections.idleTimeoutMs, maxInflationRatio: limits.maxInflationRatio });
          if (caller.kind === 'key') rows = whileKeyValid(rows, () => app.auth.stillValid(caller.key.id));
          const outcome = await app.pipeline.ingest(stream, format, rows, Number.isFinite(declared) ? declared : undefined);
          app.metrics.bytesReceived.inc({ stream: name, format }, outcome.bytesReceived);
          app.metrics.rows.inc({ stream: name, outcome: 'accepted' }, outcome.rowsAccepted);
          app.metrics.rows.inc({ stream: name, outcome: 'rejected' }, outcome.rowsRejected);
          const body: IngestResultDto = {
            stream: name,
            rowsAccepted: outcome.rowsAccepted,
            rowsRejected: outcome.rowsRejected,
            errors: outcome.errors,
            files: outcome.files,
            requestId: request.id,
          };
          return reply.send(body);
        } catch (error) {
          if (error instanceof SluiceError && error.code === 'ingest.rows_rejected') {
            const details = error.details as { rowsRejected: number };
            app.metrics.rows.inc({ stream: name, outcome: 'rejected' }, details.rowsRejected);
          }
          throw error;
        } finally {
          inFlight.leave(holder);
          app.metrics.queueLength.dec();
        }
      },
    );
  };
}
