/**
 * One ingest request, whatever it came over (POST /v1/streams/:stream/rows, or an Arrow Flight DoPut):
 * admission, the Idempotency-Key, the pipeline, the metrics, and the answer. The caller has checked the
 * key and found the stream; it turns the outcome into its protocol's answer.
 */
import { SluiceError, type IngestResultDto, type StreamDto } from '@sluice/shared';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Caller } from '../plugins/auth';
import type { BodyFormat } from '../pipeline/protocol';
import { startKeyed, type IdempotentAttempt } from './idempotency';
import type { KeyLedger } from './key-ledger';

/** How often a request in flight checks that its key was not revoked meanwhile. */
const KEY_CHECK_INTERVAL_MS = 1000;

export interface IngestRequest {
  caller: Caller;
  stream: StreamDto;
  format: BodyFormat;
  /** Starts reading the body (its bytes, decompressed): only once the request is admitted. */
  openBody: () => AsyncIterable<Uint8Array>;
  idempotencyKey: string | null;
  requestId: string;
  log: FastifyBaseLogger;
  /** The body's declared size, when it has one. */
  declaredBytes?: number;
  /** Each piece of the body is the whole of its own buffer (see IngestOptions.ownedPieces). */
  ownedPieces?: boolean;
}

/** 200 with the result, or (a keyed retry of an answered request) the answer on record, replayed. */
export type IngestAnswer = { replayed: false; body: IngestResultDto } | { replayed: true; status: number; body: unknown };

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

export async function runIngest(app: FastifyInstance, ledger: KeyLedger, request: IngestRequest): Promise<IngestAnswer> {
  const { caller, stream, format, idempotencyKey } = request;
  const { limits } = app.config;
  const admitted = app.admission.admit(caller.kind === 'key' ? caller.key.id : 'admin');
  app.metrics.queueLength.inc();
  let attempt: IdempotentAttempt | null = null;
  try {
    let rows = request.openBody();
    if (caller.kind === 'key') rows = whileKeyValid(rows, () => app.auth.stillValid(caller.key.id));
    if (idempotencyKey !== null) {
      const start = await startKeyed(
        {
          ledger,
          log: request.log,
          streamId: stream.id,
          key: idempotencyKey,
          holder: request.requestId,
          ...app.config.idempotency,
          maxBodyBytes: limits.maxBodyBytes,
        },
        rows,
      );
      if (start.kind === 'replay') return { replayed: true, status: start.status, body: start.response };
      attempt = start.attempt;
      rows = attempt.read(rows);
    }
    const outcome = await app.pipeline.ingest(stream, format, rows, {
      declaredBytes: request.declaredBytes,
      ownedPieces: request.ownedPieces,
      keyed: attempt?.keyed,
      source: { requestId: request.requestId, keyId: caller.kind === 'key' ? caller.key.id : null },
    });
    app.metrics.bytesReceived.inc({ stream: stream.name, format }, outcome.bytesReceived);
    app.metrics.rows.inc({ stream: stream.name, outcome: 'accepted' }, outcome.rowsAccepted - outcome.rowsAlreadyStored);
    app.metrics.rows.inc({ stream: stream.name, outcome: 'rejected' }, outcome.rowsRejected);
    const body: IngestResultDto = {
      stream: stream.name,
      rowsAccepted: outcome.rowsAccepted,
      rowsAlreadyStored: outcome.rowsAlreadyStored,
      rowsRejected: outcome.rowsRejected,
      errors: outcome.errors,
      files: outcome.files,
      requestId: request.requestId,
    };
    await attempt?.answered(200, body);
    return { replayed: false, body };
  } catch (error) {
    await attempt?.failed(error, request.requestId);
    if (error instanceof SluiceError && error.code === 'ingest.rows_rejected') {
      const details = error.details as { rowsRejected: number };
      app.metrics.rows.inc({ stream: stream.name, outcome: 'rejected' }, details.rowsRejected);
    }
    throw error;
  } finally {
    admitted.leave();
    app.metrics.queueLength.dec();
  }
}
