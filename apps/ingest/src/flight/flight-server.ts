/**
 * Arrow Flight ingest: the FlightService of Arrow's Flight.proto on gRPC (FLIGHT_PORT), sharing the HTTP
 * route's pipeline, byte budget, keys, idempotency and metrics (routes/ingest-request.ts).
 *
 * - DoPut: the first FlightData's descriptor names the stream (a PATH of one element, or a CMD holding JSON
 *   `{"stream": ..., "idempotencyKey": ...}`); the key is in the call metadata (`authorization: Bearer
 *   slk_...`). Each FlightData is an IPC message (`data_header` the flatbuffer Message, `data_body` its body):
 *   re-framed, they are the Arrow IPC stream the HTTP route takes. The answer, once every accepted row is
 *   durable, is one PutResult whose app_metadata is the HTTP answer's JSON.
 * - Refusals are gRPC statuses (statusFor) with the Sluice code in the `sluice-error-code` trailer and at
 *   the start of the details.
 * - Backpressure: a call reads its next message only when the pipeline took the one before (the call's
 *   buffer holds one message), so HTTP/2 flow control holds the producer back while the budget is full.
 * - ListFlights, GetFlightInfo and GetSchema describe the streams a key may write to, with their Arrow schema;
 *   Handshake accepts the bearer key (in the metadata or as the payload) and echoes it back.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { keyAllowsStream, listStreams } from '@sluice/db';
import { type ErrorCode, newId, SluiceError, toArrowSchema, toErrorBody, type StreamDto } from '@sluice/shared';
import { Message, type Schema } from 'apache-arrow';
import type { FastifyInstance } from 'fastify';
import { framedMessage } from '../pipeline/parse/arrow-ipc';
import { freeNow } from '../pipeline/young-gc';
import { Authenticator, type Caller, type CallerRequest } from '../plugins/auth';
import type { StreamCache } from '../plugins/stream-cache';
import { runIngest } from '../routes/ingest-request';
import { idempotencyKeyOf } from '../routes/idempotency';
import { idleLimited } from '../routes/request-body';
import { KeyLedger } from '../routes/key-ledger';

interface FlightDescriptor {
  type: 'UNKNOWN' | 'PATH' | 'CMD';
  cmd: Buffer;
  path: string[];
}

interface FlightData {
  flight_descriptor: FlightDescriptor | null;
  data_header: Buffer;
  app_metadata: Buffer;
  data_body: Buffer;
}

/** The proto beside this module (src/flight/, or dist/ once built). */
function protoPath(): string {
  for (const candidate of ['./flight.proto', '../flight.proto']) {
    const file = fileURLToPath(new URL(candidate, import.meta.url));
    if (fs.existsSync(file)) return file;
  }
  throw new Error('flight.proto is missing beside the service');
}

function loadService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(protoPath(), { keepCase: true, longs: Number, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    arrow: { flight: { protocol: { FlightService: grpc.ServiceClientConstructor } } };
  };
  return loaded.arrow.flight.protocol.FlightService.service;
}

/** A Sluice error as a gRPC status: the code decides the status, and travels in the trailers. */
export function statusFor(error: unknown, requestId: string): grpc.StatusObject {
  const { error: body } = toErrorBody(error, requestId);
  const metadata = new grpc.Metadata();
  metadata.set('sluice-error-code', body.code);
  metadata.set('sluice-request-id', requestId);
  if (body.details !== undefined) metadata.set('sluice-error-details-bin', detailsBytes(body.details));
  return { code: grpcCodeOf(error), details: `${body.code}: ${body.message}`, metadata };
}

/** Trailers beyond 8 KiB are refused by most gRPC clients: the details as JSON within that, errors cut if need be. */
const MAX_DETAILS_BYTES = 6 * 1024;

/**
 * An error's details (UTF-8 JSON, in a binary trailer: field names and values need not be ASCII), within
 * MAX_DETAILS_BYTES: rejected rows past what fits are left out (`errorsOmitted` says how many).
 */
export function detailsBytes(details: unknown): Buffer {
  let bytes = Buffer.from(JSON.stringify(details));
  const { errors } = details as { errors?: unknown[] };
  if (bytes.length <= MAX_DETAILS_BYTES || !Array.isArray(errors)) return bytes.subarray(0, MAX_DETAILS_BYTES);
  for (let kept = errors.length - 1; kept >= 0 && bytes.length > MAX_DETAILS_BYTES; kept = Math.floor(kept / 2)) {
    bytes = Buffer.from(JSON.stringify({ ...(details as object), errors: errors.slice(0, kept), errorsOmitted: errors.length - kept }));
    if (kept === 0) break;
  }
  return bytes;
}

function grpcCodeOf(error: unknown): grpc.status {
  if (!(error instanceof SluiceError)) return grpc.status.INTERNAL;
  if (error.code === 'ingest.rows_rejected') return grpc.status.FAILED_PRECONDITION;
  if (error.code === 'ingest.idempotency_in_flight') return grpc.status.ABORTED;
  if (error.code === 'ingest.idempotency_mismatch') return grpc.status.FAILED_PRECONDITION;
  switch (error.status) {
    case 401:
      return grpc.status.UNAUTHENTICATED;
    case 403:
      return grpc.status.PERMISSION_DENIED;
    case 404:
      return grpc.status.NOT_FOUND;
    case 408:
      return grpc.status.DEADLINE_EXCEEDED;
    case 429:
      return grpc.status.RESOURCE_EXHAUSTED;
    case 499:
      return grpc.status.CANCELLED;
    case 503:
      return grpc.status.UNAVAILABLE;
    default:
      return error.status >= 500 ? grpc.status.INTERNAL : grpc.status.INVALID_ARGUMENT;
  }
}

/** The stream a descriptor names, and the Idempotency-Key a CMD descriptor may carry. */
function targetOf(descriptor: FlightDescriptor | null | undefined): { stream: string; idempotencyKey: string | null } {
  if (descriptor?.type === 'PATH' && descriptor.path.length === 1 && descriptor.path[0]) {
    return { stream: descriptor.path[0], idempotencyKey: null };
  }
  if (descriptor?.type === 'CMD') {
    let command: unknown;
    try {
      command = JSON.parse(descriptor.cmd.toString('utf8'));
    } catch {
      throw new SluiceError('request.invalid', 'A CMD descriptor holds JSON: {"stream": "...", "idempotencyKey": "..."}.');
    }
    const { stream, idempotencyKey } = (command ?? {}) as { stream?: unknown; idempotencyKey?: unknown };
    if (typeof stream !== 'string' || stream === '') throw new SluiceError('request.invalid', 'The CMD descriptor names no "stream".');
    if (idempotencyKey !== undefined && idempotencyKey !== null && typeof idempotencyKey !== 'string') {
      throw new SluiceError('ingest.invalid_idempotency_key');
    }
    return { stream, idempotencyKey: idempotencyKeyOf((idempotencyKey ?? undefined) as string | undefined) };
  }
  throw new SluiceError('request.invalid', 'The descriptor must be a PATH holding the stream name, or a CMD holding JSON {"stream": ...}.');
}

/** A stream's schema as Flight carries it: an IPC Schema message, with its continuation prefix. */
function schemaBytes(stream: StreamDto): Buffer {
  const schema: Schema = toArrowSchema(stream.schema);
  const framed = framedMessage(Message.encode(Message.from(schema)), new Uint8Array(0));
  return Buffer.from(framed.buffer, framed.byteOffset, framed.byteLength);
}

function flightInfo(stream: StreamDto) {
  return {
    schema: schemaBytes(stream),
    flight_descriptor: { type: 'PATH', path: [stream.name], cmd: Buffer.alloc(0) },
    endpoint: [],
    total_records: -1,
    total_bytes: -1,
    ordered: false,
    app_metadata: Buffer.alloc(0),
  };
}

type AnyCall =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>
  | grpc.ServerDuplexStream<unknown, unknown>;

/** What a key check needs of a call: its bearer token (metadata) and the peer's address. */
function callerRequest(call: AnyCall): CallerRequest {
  const authorization = call.metadata.get('authorization')[0];
  const peer = call.getPeer();
  return {
    headers: { authorization: typeof authorization === 'string' ? authorization : undefined },
    ip: peer
      .replace(/^ipv[46]:/, '')
      .replace(/:\d+$/, '')
      .replace(/^\[|\]$/g, ''),
  };
}

export interface FlightServer {
  port: number;
  /** Stops taking calls; calls in flight finish, or get UNAVAILABLE once `timeoutMs` has passed. */
  close(timeoutMs: number): Promise<void>;
}

export async function startFlightServer(
  app: FastifyInstance,
  streams: StreamCache,
  options: { host: string; port: number; maxMessageBytes: number },
): Promise<FlightServer> {
  const ledger = new KeyLedger(app.db);
  const active = new Set<grpc.ServerDuplexStream<FlightData, unknown>>();
  let closing = false;

  const observe = (started: bigint, code: grpc.status) => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    app.metrics.requestDuration.observe({ route: 'flight', status: grpc.status[code] ?? String(code) }, seconds);
  };
  /** A refusal as the call's status (an unexpected failure is logged: it is ours). */
  const refusal = (error: unknown, requestId: string, started: bigint, call?: AnyCall): grpc.StatusObject => {
    // A call its client cancelled ends with no answer anyone reads: counted as CANCELLED, not as our failure.
    const cause = !(error instanceof SluiceError) && call?.cancelled ? new SluiceError('request.aborted') : error;
    let status: grpc.StatusObject;
    try {
      status = statusFor(cause, requestId);
    } catch (failure) {
      status = { code: grpc.status.INTERNAL, details: 'internal.error', metadata: new grpc.Metadata() };
      app.log.error({ err: failure, requestId }, 'an Arrow Flight refusal could not be written');
    }
    if (!(cause instanceof SluiceError)) app.log.error({ err: error, requestId }, 'an Arrow Flight call failed');
    observe(started, status.code);
    return status;
  };
  const emitStatus = (call: AnyCall, status: grpc.StatusObject) => {
    (call as grpc.ServerWritableStream<unknown, unknown>).emit('error', status);
  };
  const unary =
    <Request>(handler: (call: grpc.ServerUnaryCall<Request, unknown>) => Promise<unknown>) =>
    (call: grpc.ServerUnaryCall<Request, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = process.hrtime.bigint();
      handler(call).then(
        (response) => {
          observe(started, grpc.status.OK);
          callback(null, response);
        },
        (error: unknown) => callback(refusal(error, newId('req'), started)),
      );
    };
  const streaming =
    (handler: (call: grpc.ServerWritableStream<unknown, unknown>) => Promise<void>) =>
    (call: grpc.ServerWritableStream<unknown, unknown>) => {
      const started = process.hrtime.bigint();
      handler(call).then(
        () => observe(started, grpc.status.OK),
        (error: unknown) => emitStatus(call, refusal(error, newId('req'), started)),
      );
    };

  const mayWrite = async (call: AnyCall, stream: string): Promise<Caller> =>
    app.auth.requireStreamAccess(callerRequest(call), stream, 'ingest');

  const implementation: grpc.UntypedServiceImplementation = {
    Handshake: (call: grpc.ServerDuplexStream<{ payload: Buffer }, unknown>) => {
      call.once('data', (request: { payload: Buffer }) => {
        const fromMetadata = callerRequest(call);
        const payload = request.payload?.length ? request.payload.toString('utf8') : null;
        const authorization = fromMetadata.headers.authorization ?? (payload ? `Bearer ${payload}` : undefined);
        app.auth.requireKey({ headers: { authorization }, ip: fromMetadata.ip }).then(
          () => {
            const headers = new grpc.Metadata();
            headers.set('authorization', authorization!);
            call.sendMetadata(headers);
            call.write({ protocol_version: 0, payload: Buffer.alloc(0) });
            call.end();
          },
          (error: unknown) => emitStatus(call, statusFor(error, newId('req'))),
        );
      });
    },
    ListFlights: streaming(async (call) => {
      const request = callerRequest(call);
      const admin = app.auth.isAdmin(Authenticator.bearer(request));
      const key = admin ? null : await app.auth.requireKey(request);
      for (const stream of await listStreams(app.db)) {
        if (key === null || keyAllowsStream(key, stream.name)) call.write(flightInfo(stream));
      }
      call.end();
    }),
    GetFlightInfo: unary(async (call: grpc.ServerUnaryCall<FlightDescriptor, unknown>) => {
      const { stream } = targetOf(call.request);
      await mayWrite(call, stream);
      return flightInfo(await streams.get(stream));
    }),
    GetSchema: unary(async (call: grpc.ServerUnaryCall<FlightDescriptor, unknown>) => {
      const { stream } = targetOf(call.request);
      await mayWrite(call, stream);
      return { schema: schemaBytes(await streams.get(stream)) };
    }),
    ListActions: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
    DoPut: (call: grpc.ServerDuplexStream<FlightData, unknown>) => {
      if (closing) {
        emitStatus(call, statusFor(new SluiceError('service.shutting_down'), newId('req')));
        return;
      }
      // One message read ahead at most: the rest wait in HTTP/2 flow control, not in this process.
      (call as unknown as { _readableState: { highWaterMark: number } })._readableState.highWaterMark = 1;
      active.add(call);
      const requestId = newId('req');
      const started = process.hrtime.bigint();
      doPut(call, requestId)
        .then(
          (answer) => {
            call.write({ app_metadata: Buffer.from(JSON.stringify(answer)) });
            call.end();
            observe(started, grpc.status.OK);
          },
          (error: unknown) => emitStatus(call, refusal(error, requestId, started, call)),
        )
        .finally(() => active.delete(call));
    },
  };

  async function doPut(call: grpc.ServerDuplexStream<FlightData, unknown>, requestId: string) {
    // Not destroyed when the messages end: the answer still goes out on the call. A call that sends nothing
    // for INGEST_IDLE_TIMEOUT_MS ends, as an HTTP body does (408, here DEADLINE_EXCEEDED).
    const received = call.iterator({ destroyOnReturn: false }) as AsyncIterable<FlightData>;
    const messages = idleLimited(received, app.config.connections.idleTimeoutMs)[Symbol.asyncIterator]();
    try {
      const first = await messages.next();
      if (first.done) throw new SluiceError('ingest.empty_body', 'The DoPut sent no FlightData.');
      const { stream: name, idempotencyKey } = targetOf(first.value.flight_descriptor);
      const caller = await mayWrite(call, name);
      const stream = await streams.get(name);
      const log = app.log.child({ requestId, route: 'flight' });
      const answer = await runIngest(app, ledger, {
        caller,
        stream,
        format: 'arrow',
        openBody: () => ipcStream(first.value, messages),
        ownedPieces: true,
        idempotencyKey,
        requestId,
        log,
      });
      // A retry of an Idempotency-Key answered with a refusal gets that refusal again, as a status.
      if (answer.replayed && answer.status !== 200) {
        const { error } = answer.body as { error: { code: ErrorCode; message: string; details?: unknown } };
        throw new SluiceError(error.code, error.message, { details: error.details });
      }
      return answer.body;
    } finally {
      // A call refused before its messages were read whole still has them open, and their idle timer armed.
      void messages.return?.(undefined)?.catch(() => {});
    }
  }

  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });
  server.addService(loadService(), implementation);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  app.log.info({ port }, 'Arrow Flight listening');

  return {
    port,
    async close(timeoutMs: number) {
      closing = true;
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const timedOut = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
      if ((await Promise.race([drained, timedOut])) === 'timeout') {
        for (const call of active) emitStatus(call, statusFor(new SluiceError('service.shutting_down'), newId('req')));
        server.forceShutdown();
      }
    },
  };
}

const LARGE_MESSAGE_BYTES = 1024 * 1024;

/** The FlightData messages of a DoPut as an Arrow IPC stream: each re-framed as an IPC message. */
async function* ipcStream(first: FlightData, rest: AsyncIterator<FlightData>): AsyncIterable<Uint8Array> {
  let data: FlightData | undefined = first;
  while (data !== undefined) {
    // A FlightData may carry only app_metadata: no IPC message then.
    if (data.data_header.length > 0) {
      const framed = framedMessage(data.data_header, data.data_body);
      // A large message was received into a buffer of its own (grpc-js joins its frames into one): once
      // copied out, its memory goes now, not at the next full collection (see young-gc.ts).
      if (data.data_body.buffer.byteLength >= LARGE_MESSAGE_BYTES) freeNow(data.data_body.buffer as ArrayBuffer);
      yield framed;
    }
    const next = await rest.next();
    data = next.done ? undefined : next.value;
  }
}
