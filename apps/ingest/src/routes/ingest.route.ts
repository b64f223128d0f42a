/**
 * POST /v1/streams/:stream/rows: a CSV or NDJSON body, streamed (never held whole), answered once every
 * accepted row is durable. Everything that can refuse a request happens before its body is read:
 * auth (401/403), stream (404), content type and encoding (415), declared size (413), shutdown (503) and
 * admission against the byte budget (429 + Retry-After).
 */
import { createGunzip } from 'node:zlib';
import { SluiceError, type IngestResultDto } from '@sluice/shared';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { BodyFormat } from '../pipeline/protocol';
import type { StreamCache } from '../plugins/stream-cache';

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

/** The request body, decompressed when gzip, as an async iterable of byte pieces. */
function bodyOf(request: FastifyRequest, gzip: boolean): AsyncIterable<Uint8Array> {
  if (!gzip) return request.raw;
  const gunzip = createGunzip();
  request.raw.on('error', (error) => gunzip.destroy(error));
  request.raw.pipe(gunzip);
  return (async function* () {
    try {
      for await (const piece of gunzip) yield piece as Uint8Array;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code?.startsWith('Z_') || /unexpected end of file|incorrect header/i.test((error as Error).message)) {
        throw new SluiceError('ingest.malformed_body', `The gzip body is truncated or corrupt (${(error as Error).message}).`);
      }
      throw error;
    }
  })();
}

/**
 * After a refusal the rest of the body is still on its way. Reading and discarding it (up to a point)
 * lets the producer finish sending and read the answer, instead of failing with a broken pipe; past
 * LINGER_BYTES the connection is closed rather than drain gigabytes for nothing.
 */
const LINGER_BYTES = 16 * 1024 * 1024;

function refuseBeforeBody(request: FastifyRequest, reply: FastifyReply) {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (declared > LINGER_BYTES) {
    reply.header('connection', 'close');
    return;
  }
  let discarded = 0;
  request.raw.on('data', (piece: Buffer) => {
    discarded += piece.length;
    if (discarded > LINGER_BYTES) request.raw.socket.destroy();
  });
  request.raw.resume();
}

export function ingestRoutes(streams: StreamCache): FastifyPluginAsync {
  return async (app) => {
    // The body is read by the handler as a stream: no buffering parser for any content type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));

    app.addHook('onError', async (request, reply) => refuseBeforeBody(request, reply));

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
        await app.auth.requireStreamAccess(request, name, 'ingest');
        const stream = await streams.get(name);
        const format = formatOf(request.headers['content-type']);
        const gzip = gzipped(request.headers['content-encoding']);
        const declared = Number(request.headers['content-length'] ?? Number.NaN);
        if (declared > app.config.limits.maxBodyBytes) {
          throw new SluiceError('ingest.payload_too_large', `The body is larger than ${app.config.limits.maxBodyBytes} bytes (MAX_BODY_BYTES).`);
        }
        if (app.draining) {
          app.metrics.rejectedRequests.inc({ reason: 'shutting_down' });
          throw new SluiceError('service.shutting_down', undefined, {
            headers: { 'retry-after': String(app.config.queue.retryAfterSeconds) },
          });
        }
        if (!app.budget.admits()) {
          app.metrics.rejectedRequests.inc({ reason: 'busy' });
          throw new SluiceError('ingest.busy', undefined, {
            headers: { 'retry-after': String(app.config.queue.retryAfterSeconds) },
          });
        }

        app.metrics.queueLength.inc();
        try {
          const outcome = await app.pipeline.ingest(stream, format, bodyOf(request, gzip));
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
          app.metrics.queueLength.dec();
        }
      },
    );
  };
}
