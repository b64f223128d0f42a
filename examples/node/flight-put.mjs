#!/usr/bin/env node
// Sends an Arrow IPC stream file to Sluice with Arrow Flight (DoPut), record batch by record batch, over
// @grpc/grpc-js: each batch's IPC messages go as FlightData (`data_header` the flatbuffer Message,
// `data_body` its body). The descriptor is a CMD holding {"stream", "idempotencyKey"} (the key: the SHA-256
// of the file's absolute path and content, so a retry never stores a row twice); the API key goes in the
// call's metadata. Prints Sluice's answer (the PutResult's app_metadata: the HTTP route's JSON). Retries
// UNAVAILABLE, RESOURCE_EXHAUSTED (busy) and ABORTED (the key in use) with exponential backoff.
// The service definition is Arrow's Flight.proto; this script loads the copy Sluice serves from.
//   SLUICE_FLIGHT=127.0.0.1:8815 SLUICE_KEY=slk_... node examples/node/flight-put.mjs <stream> <file.arrows>
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Message, MessageReader, RecordBatchReader, RecordBatchStreamWriter } from 'apache-arrow';

const [stream, file] = process.argv.slice(2);
const address = process.env.SLUICE_FLIGHT ?? '127.0.0.1:8815';
const attempts = 8;

const hash = createHash('sha256').update(`${path.resolve(file)}\0`);
for await (const chunk of createReadStream(file)) hash.update(chunk);
const idempotencyKey = hash.digest('hex');

const proto = path.resolve(import.meta.dirname, '../../apps/ingest/src/flight/flight.proto');
const { arrow } = grpc.loadPackageDefinition(protoLoader.loadSync(proto, { keepCase: true, longs: Number, enums: String, defaults: true }));
// Messages up to FLIGHT_MAX_MESSAGE_BYTES (64 MiB by default) are taken: split larger batches.
const client = new arrow.flight.protocol.FlightService(address, grpc.credentials.createInsecure(), {
  'grpc.max_send_message_length': 64 * 1024 * 1024,
});

/** A record batch's IPC messages (its dictionaries, then the batch) as FlightData; the schema only once. */
function* flightData(batch, first) {
  const reader = new MessageReader(RecordBatchStreamWriter.writeAll([batch]).toUint8Array(true));
  for (let message = reader.readMessage(); message !== null; message = reader.readMessage()) {
    const body = reader.readMessageBody(message.bodyLength);
    if (message.isSchema() && !first) continue;
    yield { data_header: Message.encode(message), data_body: body };
  }
}

/** One DoPut of the whole file; resolves with the answer, rejects with the gRPC status. */
function put() {
  return new Promise((resolve, reject) => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${process.env.SLUICE_KEY}`);
    const call = client.DoPut(metadata);
    let answer;
    call.on('data', (result) => {
      answer = JSON.parse(result.app_metadata.toString('utf8'));
    });
    call.on('error', reject);
    call.on('end', () => resolve(answer));
    (async () => {
      const descriptor = { type: 'CMD', cmd: Buffer.from(JSON.stringify({ stream, idempotencyKey })) };
      let first = true;
      for await (const batch of await RecordBatchReader.from(createReadStream(file))) {
        for (const data of flightData(batch, first)) {
          // Flow control: wait while the service holds the call back.
          if (!call.write(first ? { ...data, flight_descriptor: descriptor } : data)) await new Promise((done) => call.once('drain', done));
          first = false;
        }
      }
      call.end();
    })().catch((error) => {
      call.cancel();
      reject(error);
    });
  });
}

const RETRIED = [grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED, grpc.status.ABORTED];
for (let attempt = 1; ; attempt++) {
  try {
    console.log(JSON.stringify(await put()));
    break;
  } catch (error) {
    if (!RETRIED.includes(error.code) || attempt === attempts) {
      console.error(`${grpc.status[error.code] ?? 'error'}: ${error.details ?? error.message}`);
      process.exit(1);
    }
    const delay = Math.min(2 ** (attempt - 1), 30) * (1 + Math.random());
    console.error(`attempt ${attempt}: ${grpc.status[error.code]}, retrying in ${delay.toFixed(1)}s`);
    await sleep(delay * 1000);
  }
}
client.close();
