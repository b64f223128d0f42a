/**
 * POST /v1/streams/:stream/rows: a CSV, NDJSON or Arrow IPC stream body, streamed (never held whole), answered once every
 * accepted row is durable. Everything that can refuse a request happens before its body is read:
 * auth (401/403), stream (404), content type and encoding (415), declared size (413), and admission
 * (pipeline/admission.ts: shutdown 503, busy or too many requests 429 + Retry-After).
 */
import { SluiceError } from '@sluice/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { BodyFormat } from '../pipeline/protocol';
import type { StreamCache } from '../plugins/stream-cache';
import { idempotencyKeyOf } from './idempotency';
import { runIngest } from './ingest-request';
import { KeyLedger } from './key-ledger';
import { requestBody, type BodyEncoding } from './request-body';

const CSV_TYPES = new Set(['text/csv', 'application/csv', 'text/plain']);
const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/json-lines',
]);

/** The Arrow IPC streaming format (the file format needs its footer first: it cannot be read as it arrives). */
const ARROW_STREAM_TYPES = new Set(['application/vnd.apache.arrow.stream', 'application/x-apache-arrow-stream']);

function formatOf(contentType: string | undefined): BodyFormat {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (CSV_TYPES.has(type)) return 'csv';
  if (NDJSON_TYPES.has(type)) return 'ndjson';
  if (ARROW_STREAM_TYPES.has(type)) return 'arrow';
  const hint =
    type === 'application/vnd.apache.arrow.file' ? ' (the Arrow file format cannot be read as it arrives: send the IPC stream format)' : '';
  throw new SluiceError(
    'ingest.unsupported_media_type',
    `Content-Type "${type || '(none)'}" is not accepted${hint}: send text/csv, application/x-ndjson or application/vnd.apache.arrow.stream.`,
  );
}

function encodingOf(header: string | undefined): BodyEncoding {
  const value = (header ?? 'identity').trim().toLowerCase();
  if (value === 'identity' || value === '') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'zstd') return 'zstd';
  throw new SluiceError('ingest.unsupported_encoding', `Content-Encoding "${value}" is not accepted: send gzip, zstd or nothing.`);
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
            'Streams a CSV (text/csv, header row required), NDJSON (application/x-ndjson) or Arrow IPC stream ' +
            '(application/vnd.apache.arrow.stream; fields matched to columns by name, lossless casts only, rows numbered ' +
            'from 1 across record batches) body into the stream. ' +
            'Content-Encoding: gzip or zstd is accepted. Answers once every accepted row is durably stored. ' +
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
        const encoding = encodingOf(request.headers['content-encoding']);
        const declared = Number(request.headers['content-length'] ?? Number.NaN);
        if (declared > limits.maxBodyBytes) {
          throw new SluiceError('ingest.payload_too_large', `The body is larger than ${limits.maxBodyBytes} bytes (MAX_BODY_BYTES).`);
        }
        const idempotencyKey = idempotencyKeyOf(request.headers['idempotency-key']);
        const answer = await runIngest(app, ledger, {
          caller,
          stream,
          format,
          openBody: () =>
            requestBody(request.raw, encoding, {
              idleTimeoutMs: connections.idleTimeoutMs,
              maxInflationRatio: limits.maxInflationRatio,
            }),
          idempotencyKey,
          requestId: request.id,
          log: request.log,
          declaredBytes: Number.isFinite(declared) ? declared : undefined,
        });
        if (answer.replayed) return reply.header('idempotency-replayed', 'true').code(answer.status).send(answer.body);
        return reply.send(answer.body);
      },
    );
  };
}
