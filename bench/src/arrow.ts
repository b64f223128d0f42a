/**
 * The benchmark's dataset as an Arrow IPC stream (the same rows as the CSV and NDJSON files, record
 * batches of 64Ki rows, as a producer holding columns would send them), and a Flight DoPut of such a
 * file as one call (the FlightData cut from its messages, sent as fast as HTTP/2 flow control lets them).
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import {
  Bool,
  Field,
  Float64,
  Int32,
  Int64,
  makeData,
  Message,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
  TimestampMicrosecond,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { columnsFor, rows, type Row } from './dataset';

const BATCH_ROWS = 65_536;

/** The IPC messages of `bytes` (prefix, metadata, body), in order, as views of it. */
export function* ipcMessages(bytes: Uint8Array): Generator<{ header: Uint8Array; body: Uint8Array; framed: Uint8Array }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 8 <= bytes.length) {
    const length = view.getInt32(at + 4, true);
    if (length === 0) return;
    const header = bytes.subarray(at + 8, at + 8 + length);
    const bodyLength = Number(Message.decode(header).bodyLength);
    const end = at + 8 + length + bodyLength;
    yield { header, body: bytes.subarray(at + 8 + length, end), framed: bytes.subarray(at, end) };
    at = end;
  }
}

function batchOf(schema: Schema, batch: Row[]): RecordBatch {
  const column = (index: number) => batch.map((row) => row[index]!);
  const children = [
    makeData({ type: new Int64(), length: batch.length, data: BigInt64Array.from(column(0), (id) => BigInt(id as number)) }),
    makeData({ type: new Int32(), length: batch.length, data: Int32Array.from(column(1) as number[]) }),
    vectorFromArray(column(2) as string[], new Utf8()).data[0]!,
    vectorFromArray(column(3) as number[], new Float64()).data[0]!,
    vectorFromArray(column(4) as boolean[], new Bool()).data[0]!,
    makeData({
      type: new TimestampMicrosecond('UTC'),
      length: batch.length,
      data: BigInt64Array.from(column(5), (iso) => BigInt(Date.parse(iso as string)) * 1000n),
    }),
    vectorFromArray(column(6) as string[], new Utf8()).data[0]!,
    vectorFromArray(column(7) as string[], new Utf8()).data[0]!,
  ];
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: batch.length, children }));
}

/** Writes the mixed dataset's first `count` rows (seed as the CSV's) as an Arrow IPC stream file. */
export function writeArrowDataset(count: number, seed: number, out: string): void {
  const columns = columnsFor('mixed');
  const types = [new Int64(), new Int32(), new Utf8(), new Float64(), new Bool(), new TimestampMicrosecond('UTC'), new Utf8(), new Utf8()];
  const schema = new Schema(columns.map((column, index) => new Field(column.name, types[index]!, column.nullable)));
  const fd = fs.openSync(out, 'w');
  let pending: Row[] = [];
  let first = true;
  const flush = () => {
    // Each batch as a one-batch stream: its schema message is written once, its end marker never.
    const bytes = tableToIPC(new Table([batchOf(schema, pending)]), 'stream');
    for (const message of ipcMessages(bytes)) {
      if (!first && Message.decode(message.header).isSchema()) continue;
      fs.writeSync(fd, message.framed);
    }
    first = false;
    pending = [];
  };
  for (const row of rows('mixed', count, seed)) {
    pending.push(row);
    if (pending.length === BATCH_ROWS) flush();
  }
  if (pending.length > 0) flush();
  fs.writeSync(fd, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0));
  fs.closeSync(fd);
}

/** A protobuf varint. */
function varint(value: number): number[] {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return bytes;
}

/**
 * One DoPut of the file's record batches, as a lean producer sends it (as pyarrow's C++ client does): gRPC
 * over node:http2 with each FlightData's protobuf written around views of the file, nothing copied. A
 * Node client built on @grpc/grpc-js (examples/node/flight-producer.mjs) spends about a core's worth of CPU
 * second per 70 MB on this machine, which the service would then not have: that is the producer's cost,
 * not Sluice's. Resolves with the answer (the PutResult's JSON) and the gRPC status.
 */
export function flightPut(
  address: string,
  key: string,
  stream: string,
  file: string,
): Promise<{ status: number; body: { rowsAccepted: number } }> {
  const bytes = fs.readFileSync(file);
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', reject);
    const call = session.request({
      ':method': 'POST',
      ':path': '/arrow.flight.protocol.FlightService/DoPut',
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${key}`,
    });
    const answer: Buffer[] = [];
    let status = -1;
    call.on('data', (piece: Buffer) => answer.push(piece));
    call.on('trailers', (trailers) => {
      status = Number(trailers['grpc-status']);
    });
    call.on('end', () => {
      session.close();
      // One gRPC message: flag, length, PutResult { bytes app_metadata = 1 }.
      const message = Buffer.concat(answer).subarray(5);
      let at = 1;
      let length = 0;
      for (let shift = 0; ; shift += 7) {
        const byte = message[at++]!;
        length += (byte & 0x7f) * 2 ** shift;
        if (byte < 0x80) break;
      }
      const body = status === 0 ? JSON.parse(message.subarray(at, at + length).toString('utf8')) : { rowsAccepted: 0 };
      resolve({ status: status === 0 ? 200 : 500, body });
    });
    call.on('error', reject);
    void (async () => {
      const name = Buffer.from(stream);
      const descriptor = [0x08, 0x01, 0x1a, ...varint(name.length), ...name];
      let first = true;
      for (const { header, body } of ipcMessages(bytes)) {
        // FlightData: flight_descriptor = 1 (the first only), data_header = 2, data_body = 1000.
        const fields = [...(first ? [0x0a, ...varint(descriptor.length), ...descriptor] : []), 0x12, ...varint(header.length)];
        const bodyTag = [0xc2, 0x3e, ...varint(body.length)];
        const size = fields.length + header.length + bodyTag.length + body.length;
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(size, 1);
        first = false;
        call.write(Buffer.concat([prefix, Buffer.from(fields), header, Buffer.from(bodyTag)]));
        if (!call.write(body)) await new Promise((done) => call.once('drain', done));
      }
      call.end();
    })();
  });
}
