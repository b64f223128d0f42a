/**
 * Test helpers: an Arrow Flight client of the service (@grpc/grpc-js over the service's own flight.proto),
 * an IPC stream cut into FlightData messages, and DoPut with its outcome (the PutResult's JSON, or the status).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { IngestResultDto } from '@sluice/shared';
import { IpcFramer } from '../pipeline/parse/arrow-ipc';

const PROTO = fileURLToPath(new URL('../flight/flight.proto', import.meta.url));

export type FlightClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export function flightClient(address: string, options: grpc.ClientOptions = {}): FlightClient {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    arrow: { flight: { protocol: { FlightService: grpc.ServiceClientConstructor } } };
  };
  return new loaded.arrow.flight.protocol.FlightService(address, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    ...options,
  }) as FlightClient;
}

export function bearer(key: string | null): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (key !== null) metadata.set('authorization', `Bearer ${key}`);
  return metadata;
}

export interface Descriptor {
  type: 'PATH' | 'CMD';
  path?: string[];
  cmd?: Buffer;
}

export const pathTo = (stream: string): Descriptor => ({ type: 'PATH', path: [stream] });

/** An IPC stream's messages as FlightData (metadata as data_header, body as data_body), the first with the descriptor. */
export function flightData(ipc: Uint8Array, descriptor: Descriptor): object[] {
  const messages: object[] = [];
  new IpcFramer(Number.MAX_SAFE_INTEGER).push(ipc, ({ bytes, message }) => {
    const metadataEnd = bytes.length - Number(message.bodyLength);
    messages.push({
      flight_descriptor: messages.length === 0 ? descriptor : null,
      data_header: Buffer.from(bytes.subarray(8, metadataEnd)),
      data_body: Buffer.from(bytes.subarray(metadataEnd)),
    });
  });
  return messages;
}

export type PutOutcome =
  | { ok: true; result: IngestResultDto }
  | { ok: false; code: grpc.status; details: string; sluiceCode: string | undefined; metadata: grpc.Metadata };

/**
 * A DoPut of `messages`, written as fast as flow control lets them go (or one per `paceMs`); `onWritten`
 * hears how many the call has taken so far (a write waiting for flow control is not taken yet).
 */
export function doPut(
  client: FlightClient,
  key: string | null,
  messages: object[],
  options: { paceMs?: number; onWritten?: (count: number) => void; stopAfter?: number } = {},
): Promise<PutOutcome> {
  return new Promise((resolve) => {
    const call = client.DoPut!(bearer(key)) as grpc.ClientDuplexStream<object, { app_metadata: Buffer }>;
    let result: IngestResultDto;
    call.on('data', (put) => {
      result = JSON.parse(put.app_metadata.toString('utf8'));
    });
    call.on('error', () => {}); // the status says it
    call.on('status', (status: grpc.StatusObject) => {
      // A producer that went quiet ends its side too once answered, or its stream keeps both processes open.
      if (options.stopAfter !== undefined) call.end();
      if (status.code === grpc.status.OK) resolve({ ok: true, result: result! });
      else {
        const code = status.metadata.get('sluice-error-code')[0];
        resolve({
          ok: false,
          code: status.code,
          details: status.details,
          sluiceCode: code === undefined ? undefined : String(code),
          metadata: status.metadata,
        });
      }
    });
    void (async () => {
      let written = 0;
      for (const message of messages) {
        if (options.paceMs) await new Promise((done) => setTimeout(done, options.paceMs));
        if (!call.write(message)) await new Promise((done) => call.once('drain', done));
        written++;
        options.onWritten?.(written);
        // A producer that stops sending part-way, its call left open.
        if (written === options.stopAfter) return;
      }
      call.end();
    })();
  });
}

/** A unary call's answer or its status. */
export function unary<T>(client: FlightClient, method: string, request: object, metadata: grpc.Metadata): Promise<T> {
  return new Promise((resolve, reject) =>
    client[method]!(request, metadata, (error: grpc.ServiceError | null, answer: T) => (error ? reject(error) : resolve(answer))),
  );
}

/** A server-streaming call's messages, or its status. */
export function collect<T>(client: FlightClient, method: string, request: object, metadata: grpc.Metadata): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const items: T[] = [];
    const call = client[method]!(request, metadata) as grpc.ClientReadableStream<T>;
    call.on('data', (item: T) => items.push(item));
    call.on('error', reject);
    call.on('end', () => resolve(items));
  });
}
