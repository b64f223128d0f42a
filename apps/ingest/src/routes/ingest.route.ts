/**
 * POST /v1/streams/:stream/rows: a CSV or NDJSON body, streamed (never held whole), answered once every
 * accepted row is durable. Everything that can refuse a request happens before its body is read:
 * auth (401/403), stream (404), content type and encoding (415), declared size (413), and admission
 * (pipeline/admission.ts: shutdown 503, busy or too many requests 429 + Retry-After).
 */
import { SluiceError, type IngestResultDto } from '@sluice/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { BodyFormat } from '../pipeline/protocol';
import type { StreamCache } from '../plugins/stream-cache';
import { idempotencyKeyOf, startKeyed, type IdempotentAttempt } from './idempotency';
import { KeyLedger } from './key-ledger';
import { requestBody } from './request-body';

const CSV_TYPES = new Set(['text/csv', 'application/csv', 'text/plain']);
const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/json-lines',
]);

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

export function ingestRoutes(streams: StreamCache): FastifyPluginAsyncZod {
  return async (app) => {
    const { connections, limits } = app.config;
    const ledger = new KeyLedger(app.db);
    // The body is read by the handler as a stream: no buffering parser for any content type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));

    app.post(
      '/v1/streams/:stream/rows',
      {
        schema: {
          summary: 'Ingest rows',
          description:
            'Streams a CSV (text/csv, header row required) or NDJSON (application/x-ndjson) body into the stream. ' +
            'Content-Encoding: gzip is accepted. Answers once every accepted row is durably stored. ' +
            'With an Idempotency-Key header (1 to 200 printable ASCII characters, scoped to the stream), a retry never ' +
            'stores a row twice: an answered key replays its answer (Idempotency-Replayed: true) for the same body and ' +
            'refuses another (422 ingest.idempotency_mismatch); a key an earlier attempt stored part of stores only the ' +
            'rest (rowsAlreadyStored); a key in use by another attempt gets 409 ingest.idempotency_in_flight with Retry-After.',
          tags: ['ingest'],
          params: z.object({ stream: z.string() }),
          headers: z.object({ 'idempotency-key': z.string().optional() }).passthrough(),
          security: [{ apiKey: [] }],
        },
      },
      async (request, reply) => {
        const { stream: name } = request.params;
        // The admin token may write to any stream (the console's uploads use it); keys only to theirs.
        const caller = await app.auth.requireStreamAccess(request, name, 'ingest');
        const stream = await streams.get(name);
        const format = formatOf(request.headers['content-type']);
        const gzip = gzipped(request.headers['content-encoding']);
        const declared = Number(request.headers['content-length'] ?? Number.NaN);
        if (declared > limits.maxBodyBytes) {
          throw new SluiceError('ingest.payload_too_large', `The body is larger than ${limits.maxBodyBytes} bytes (MAX_BODY_BYTES).`);
        }
        const idempotencyKey = idempotencyKeyOf(request.headers['idempotency-key']);
        const admitted = app.admission.admit(caller.kind === 'key' ? caller.key.id : 'admin');

        app.metrics.queueLength.inc();
        let attempt: IdempotentAttempt | null = null;
        try {
          let rows = requestBody(request.raw, gzip, {
            idleTimeoutMs: connections.idleTimeoutMs,
            maxInflationRatio: limits.maxInflationRatio,
          });
          if (caller.kind === 'key') rows = whileKeyValid(rows, () => app.auth.stillValid(caller.key.id));
          if (idempotencyKey !== null) {
            const start = await startKeyed(
              {
                ledger,
                log: request.log,
                streamId: stream.id,
                key: idempotencyKey,
                holder: request.id,
                ...app.config.idempotency,
                maxBodyBytes: limits.maxBodyBytes,
              },
              rows,
            );
            if (start.kind === 'replay') {
              return reply.header('idempotency-replayed', 'true').code(start.status).send(start.response);
            }
            attempt = start.attempt;
            rows = attempt.read(rows);
          }
          const outcome = await app.pipeline.ingest(stream, format, rows, {
            declaredBytes: Number.isFinite(declared) ? declared : undefined,
            keyed: attempt?.keyed,
            source: { requestId: request.id, keyId: caller.kind === 'key' ? caller.key.id : null },
          });
          app.metrics.bytesReceived.inc({ stream: name, format }, outcome.bytesReceived);
          app.metrics.rows.inc({ stream: name, outcome: 'accepted' }, outcome.rowsAccepted - outcome.rowsAlreadyStored);
          app.metrics.rows.inc({ stream: name, outcome: 'rejected' }, outcome.rowsRejected);
          const body: IngestResultDto = {
            stream: name,
            rowsAccepted: outcome.rowsAccepted,
            rowsAlreadyStored: outcome.rowsAlreadyStored,
            rowsRejected: outcome.rowsRejected,
            errors: outcome.errors,
            files: outcome.files,
            requestId: request.id,
          };
          await attempt?.answered(200, body);
          return reply.send(body);
        } catch (error) {
          await attempt?.failed(error, request.id);
          if (error instanceof SluiceError && error.code === 'ingest.rows_rejected') {
            const details = error.details as { rowsRejected: number };
            app.metrics.rows.inc({ stream: name, outcome: 'rejected' }, details.rowsRejected);
          }
          throw error;
        } finally {
          admitted.leave();
          app.metrics.queueLength.dec();
        }
      },
    );
  };
}
