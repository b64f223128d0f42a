/**
 * Arrow in, end to end: Arrow IPC streams over HTTP (plain, gzip, zstd) and Arrow Flight DoPut over real
 * gRPC on 127.0.0.1, through the real pipeline, the files read back with DuckDB and compared value by
 * value; the casts at their edges, dictionary-encoded and sliced batches, many small batches and one of
 * about 60 MiB; the refusals with their statuses and codes, the service serving afterwards; the Flight
 * catalogue calls.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import type { IngestResultDto } from '@sluice/shared';
import {
  Dictionary,
  Field,
  Float32,
  Int32,
  Int64,
  LargeUtf8,
  List,
  RecordBatchReader,
  Table,
  tableToIPC,
  TimestampNanosecond,
  Uint32,
  Utf8,
  vectorFromArray,
  DateMillisecond,
  Bool,
  type RecordBatchStreamReader,
} from 'apache-arrow';
import { dataOf, ipcStream, typedRowsData, typedRowsIpc } from '../test/arrow-data';
import { detailsBytes } from './flight-server';
import { bearer, collect, doPut, flightClient, flightData, pathTo, unary, type FlightClient } from '../test/flight-client';
import { startTestService, type TestService } from '../test/harness';
import { chunkedBody } from '../test/paced-body';
import { listStreamObjects, queryParquet, readTypedRows } from '../test/read-back';
import { ALL_TYPES, fromDuckDb, typedRows } from '../test/typed-rows';

const ARROW = { 'content-type': 'application/vnd.apache.arrow.stream' };
const ROWS = typedRows(3000);
const MiB = 1024 * 1024;

describe('Arrow in: IPC over HTTP and Arrow Flight', () => {
  let service: TestService;
  let client: FlightClient;
  let key: string;
  before(async () => {
    service = await startTestService();
    client = flightClient(`127.0.0.1:${service.app.flight!.port}`);
    key = (await service.createKey('*')).key;
  });
  after(async () => {
    client.close();
    await service.close();
  });

  for (const encoding of ['identity', 'gzip', 'zstd'] as const) {
    it(`HTTP, ${encoding}: every type comes back from the Parquet files as sent`, async () => {
      const { Encoder } = await import('@toondepauw/node-zstd');
      const stream = await service.createStream({ schema: { columns: ALL_TYPES } });
      let body: Uint8Array = typedRowsIpc(ROWS, 1000);
      if (encoding === 'gzip') body = gzipSync(body);
      if (encoding === 'zstd') body = new Encoder(3).encodeSync(Buffer.from(body));
      const headers = encoding === 'identity' ? ARROW : { ...ARROW, 'content-encoding': encoding };
      const response = await service.post(stream.name, key, chunkedBody(body), headers);
      const answer = (await response.json()) as IngestResultDto;
      assert.equal(response.status, 200, JSON.stringify(answer));
      assert.equal(answer.rowsAccepted, ROWS.length);
      assert.deepEqual(answer.errors, []);
      const stored = (await readTypedRows(service.app.store, stream.name)).map(fromDuckDb);
      assert.equal(stored.length, ROWS.length);
      for (let i = 0; i < ROWS.length; i++) assert.deepEqual(stored[i], ROWS[i], `row ${i + 1}`);
    });
  }

  it('Flight DoPut: many small batches, a dictionary-encoded column, answered with the HTTP answer', async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES } });
    const batches = [];
    // One dictionary type (one id) for the stream: each batch sends its own dictionary, replacing the last.
    const labels = new Dictionary(new Utf8(), new Int32());
    for (let at = 0; at < ROWS.length; at += 50) {
      const rows = ROWS.slice(at, at + 50);
      const data = typedRowsData(rows);
      data.label = vectorFromArray(
        rows.map((row) => row.label),
        labels,
      ).data[0]!;
      batches.push(data);
    }
    const put = await doPut(client, key, flightData(ipcStream(batches), pathTo(stream.name)));
    assert.ok(put.ok, JSON.stringify(put));
    assert.equal(put.result.rowsAccepted, ROWS.length);
    assert.equal(put.result.stream, stream.name);
    assert.match(put.result.requestId, /^req_/);
    const objects = await listStreamObjects(service.app.store, stream.name);
    assert.deepEqual(put.result.files.sort(), objects.map((o) => o.key).sort(), 'the answer names exactly the stored files');
    const stored = (await readTypedRows(service.app.store, stream.name)).map(fromDuckDb);
    for (let i = 0; i < ROWS.length; i++) assert.deepEqual(stored[i], ROWS[i], `row ${i + 1}`);
  });

  it('casts losslessly, and numbers the rows it rejects across batches', async () => {
    const stream = await service.createStream({
      schema: {
        columns: [
          { name: 'id', type: 'int64', nullable: false },
          { name: 'small', type: 'int32', nullable: true },
          { name: 'x', type: 'float64', nullable: true },
          { name: 't', type: 'timestamp', nullable: true },
          { name: 'd', type: 'date', nullable: true },
          { name: 's', type: 'string', nullable: true },
          { name: 'ok', type: 'boolean', nullable: true },
        ],
      },
    });
    // Every field of another type than the column's, in two batches; row 3 (an int64 past int32) and
    // row 5 (a nanosecond timestamp that is not a whole microsecond) are rejected, their neighbours kept.
    const batch = (ids: number[], small: (bigint | null)[], nanos: (bigint | null)[]) => ({
      id: dataOf(new Uint32(), ids, Uint32Array),
      small: dataOf(new Int64(), small, BigInt64Array),
      x: dataOf(
        new Float32(),
        ids.map((id) => id + 0.5),
        Float32Array,
      ),
      t: dataOf(new TimestampNanosecond('Europe/Paris'), nanos, BigInt64Array),
      d: dataOf(
        new DateMillisecond(),
        ids.map((id) => BigInt(id % 100_000) * 86_400_000n),
        BigInt64Array,
      ),
      s: vectorFromArray(
        ids.map((id) => `s${id}`),
        new LargeUtf8(),
      ).data[0]!,
      ok: vectorFromArray(
        ids.map((id) => id % 2 === 0),
        new Bool(),
      ).data[0]!,
    });
    const body = ipcStream([
      batch([1, 2, 3], [-2147483648n, 2147483647n, 2147483648n], [1_700_000_000_000_001_000n, null, 0n]),
      batch([4, 5, 4294967295], [null, 5n, -1n], [-1_000n, 1n, 1_000n]),
    ]);
    const response = await service.post(stream.name, key, body, ARROW);
    const answer = (await response.json()) as IngestResultDto;
    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.deepEqual(
      answer.errors.map((error) => [error.line, error.column, error.code]),
      [
        [3, 'small', 'row.invalid_value'],
        [5, 't', 'row.invalid_value'],
      ],
    );
    assert.equal(answer.rowsAccepted, 4);
    const stored = await queryParquet(
      service.app.store,
      (await listStreamObjects(service.app.store, stream.name)).map((o) => o.key),
      'SELECT id, small, x, epoch_us(t) AS t, d::VARCHAR AS d, s, ok FROM data ORDER BY id',
    );
    assert.deepEqual(stored, [
      { id: 1n, small: -2147483648, x: 1.5, t: 1_700_000_000_000_001n, d: '1970-01-02', s: 's1', ok: false },
      { id: 2n, small: 2147483647, x: 2.5, t: null, d: '1970-01-03', s: 's2', ok: true },
      { id: 4n, small: null, x: 4.5, t: -1n, d: '1970-01-05', s: 's4', ok: true },
      {
        id: 4294967295n,
        small: -1,
        x: 4294967296,
        t: 1n,
        d: new Date(67_295 * 86_400_000).toISOString().slice(0, 10),
        s: 's4294967295',
        ok: false,
      },
    ]);
  });

  it('takes a sliced batch, and one batch of about 60 MiB over Flight (FLIGHT_MAX_MESSAGE_BYTES is 64 MiB)', async () => {
    const stream = await service.createStream({
      schema: {
        columns: [
          { name: 'id', type: 'int64', nullable: false },
          { name: 'text', type: 'string', nullable: true },
        ],
      },
      batch: { maxRows: 1_000_000, maxBytes: 256 * MiB, maxAgeMs: 100 },
    });
    const rows = 600_000;
    const ids = Array.from({ length: rows }, (_, i) => BigInt(i + 1));
    const texts = Array.from({ length: rows }, (_, i) => `${'t'.repeat(80)}${i}`);
    const table = new Table({ id: vectorFromArray(ids, new Int64()), text: vectorFromArray(texts, new Utf8()) });
    const ipc = tableToIPC(table, 'stream');
    assert.ok(ipc.length > 55 * MiB && ipc.length < 64 * MiB, `${ipc.length} bytes`);
    const put = await doPut(client, key, flightData(ipc, pathTo(stream.name)));
    assert.ok(put.ok, JSON.stringify(put));
    assert.equal(put.result.rowsAccepted, rows);
    const [counts] = await queryParquet(
      service.app.store,
      (await listStreamObjects(service.app.store, stream.name)).map((o) => o.key),
      'SELECT count(*) AS n, count(DISTINCT id) AS ids, sum(length(text)) AS chars, max(text) FILTER (WHERE id = 600000) AS last FROM data',
    );
    assert.deepEqual(counts, {
      n: BigInt(rows),
      ids: BigInt(rows),
      chars: BigInt(texts.reduce((sum, text) => sum + text.length, 0)),
      last: texts.at(-1),
    });

    // A slice of a table (offsets into its buffers) goes as the rows it shows.
    const sliced = new Table({
      id: vectorFromArray(ids.slice(0, 50), new Int64()),
      text: vectorFromArray(texts.slice(0, 50), new Utf8()),
    }).slice(7, 19);
    const response = await service.post(stream.name, key, tableToIPC(sliced, 'stream'), ARROW);
    assert.equal(response.status, 200);
    const [slice] = await queryParquet(
      service.app.store,
      ((await response.json()) as IngestResultDto).files,
      'SELECT min(id) AS first, max(id) AS last, count(*) AS n FROM data',
    );
    assert.deepEqual(slice, { first: 8n, last: 19n, n: 12n });
  });

  it('refuses over Flight with the gRPC status and the Sluice code, and serves on afterwards', async () => {
    const stream = await service.createStream({ schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] } });
    const other = await service.createStream({ schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] } });
    const ownKey = (await service.createKey([stream.name])).key;
    const revoked = await service.createKey([stream.name]);
    assert.equal((await service.admin('DELETE', `/v1/admin/keys/${revoked.id}`)).status, 200);
    const good = () => ipcStream([{ id: dataOf(new Int64(), [1n, 2n], BigInt64Array) }]);
    const refusals: [string, Promise<Awaited<ReturnType<typeof doPut>>>, grpc.status, string][] = [
      ['no key', doPut(client, null, flightData(good(), pathTo(stream.name))), grpc.status.UNAUTHENTICATED, 'auth.missing_key'],
      [
        'a revoked key',
        doPut(client, revoked.key, flightData(good(), pathTo(stream.name))),
        grpc.status.UNAUTHENTICATED,
        'auth.revoked_key',
      ],
      [
        "another stream's key",
        doPut(client, ownKey, flightData(good(), pathTo(other.name))),
        grpc.status.PERMISSION_DENIED,
        'auth.stream_forbidden',
      ],
      ['an unknown stream', doPut(client, key, flightData(good(), pathTo('no_such_stream'))), grpc.status.NOT_FOUND, 'stream.not_found'],
      [
        'a list column',
        doPut(
          client,
          key,
          flightData(
            ipcStream([{ id: vectorFromArray([[1]], new List(new Field('item', new Int32(), true))).data[0]! }]),
            pathTo(stream.name),
          ),
        ),
        grpc.status.INVALID_ARGUMENT,
        'ingest.malformed_body',
      ],
      [
        'a malformed IPC message',
        doPut(client, key, [
          { flight_descriptor: pathTo(stream.name), data_header: Buffer.from('not a flatbuffer at all'), data_body: Buffer.alloc(0) },
        ]),
        grpc.status.INVALID_ARGUMENT,
        'ingest.malformed_body',
      ],
      [
        'a descriptor that is neither PATH nor CMD JSON',
        doPut(client, key, flightData(good(), { type: 'CMD', cmd: Buffer.from('stream=x') })),
        grpc.status.INVALID_ARGUMENT,
        'request.invalid',
      ],
    ];
    for (const [what, outcome, code, sluiceCode] of refusals) {
      const put = await outcome;
      assert.equal(put.ok, false, what);
      if (put.ok) continue;
      assert.equal(put.code, code, `${what}: ${put.details}`);
      assert.equal(put.sluiceCode, sluiceCode, what);
      assert.ok(put.details.startsWith(`${sluiceCode}: `), put.details);
    }
    const listRefusal = await refusals[4]![1];
    assert.ok(!listRefusal.ok && /field "id" is List<Int32>/.test(listRefusal.details), JSON.stringify(listRefusal));

    // Past FLIGHT_MAX_MESSAGE_BYTES gRPC itself refuses the message before it is read.
    const big = ipcStream([
      {
        id: dataOf(
          new Int64(),
          Array.from({ length: 8_500_000 }, (_, i) => BigInt(i)),
          BigInt64Array,
        ),
      },
    ]);
    const tooBig = await doPut(client, key, flightData(big, pathTo(stream.name)));
    assert.ok(!tooBig.ok && tooBig.code === grpc.status.RESOURCE_EXHAUSTED, JSON.stringify(tooBig));
    assert.match(tooBig.details, /larger than max/);

    const served = await doPut(client, ownKey, flightData(good(), pathTo(stream.name)));
    assert.ok(served.ok && served.result.rowsAccepted === 2, JSON.stringify(served));
    const overHttp = await service.post(stream.name, key, ipcStream([{ id: vectorFromArray(['a'], new Utf8()).data[0]! }]), ARROW);
    assert.equal(overHttp.status, 400);
    assert.match(((await overHttp.json()) as { error: { message: string } }).error.message, /field "id" is Utf8/);
  });

  it('an all-or-nothing stream refuses the whole put with FAILED_PRECONDITION, storing nothing', async () => {
    const stream = await service.createStream({
      schema: { columns: [{ name: 'id', type: 'int32', nullable: false }] },
      rejectMode: 'all-or-nothing',
    });
    const descriptor = { type: 'CMD' as const, cmd: Buffer.from(JSON.stringify({ stream: stream.name, idempotencyKey: 'refused-0001' })) };
    const messages = flightData(ipcStream([{ id: dataOf(new Int64(), [1n, 2n ** 40n, 3n], BigInt64Array) }]), descriptor);
    const put = await doPut(client, key, messages);
    assert.ok(!put.ok && put.code === grpc.status.FAILED_PRECONDITION && put.sluiceCode === 'ingest.rows_rejected', JSON.stringify(put));
    // Its retry with the same key gets the same refusal, as a status: not its JSON as a PutResult.
    const retried = await doPut(client, key, messages);
    assert.ok(
      !retried.ok && retried.code === grpc.status.FAILED_PRECONDITION && retried.sluiceCode === 'ingest.rows_rejected',
      JSON.stringify(retried),
    );
    const details = JSON.parse((put.metadata.get('sluice-error-details-bin')[0] as Buffer).toString('utf8'));
    assert.deepEqual(
      details.errors.map((error: { line: number }) => error.line),
      [2],
    );
    assert.deepEqual(await listStreamObjects(service.app.store, stream.name), []);
  });

  it('a CMD descriptor carries an Idempotency-Key: the retry is answered again and stores nothing twice', async () => {
    const stream = await service.createStream({ schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] } });
    const body = ipcStream([
      { id: dataOf(new Int64(), [1n, 2n, 3n], BigInt64Array) },
      { id: dataOf(new Int64(), [4n, 5n], BigInt64Array) },
    ]);
    const descriptor = {
      type: 'CMD' as const,
      cmd: Buffer.from(JSON.stringify({ stream: stream.name, idempotencyKey: 'flight-batch-0001' })),
    };
    const first = await doPut(client, key, flightData(body, descriptor));
    const again = await doPut(client, key, flightData(body, descriptor));
    assert.ok(first.ok && again.ok);
    assert.deepEqual(again.result, first.result, 'the answer on record');
    const [count] = await queryParquet(
      service.app.store,
      (await listStreamObjects(service.app.store, stream.name)).map((o) => o.key),
      'SELECT count(*) AS n FROM data',
    );
    assert.deepEqual(count, { n: 5n });
    const other = await doPut(client, key, flightData(ipcStream([{ id: dataOf(new Int64(), [9n], BigInt64Array) }]), descriptor));
    assert.ok(!other.ok && other.sluiceCode === 'ingest.idempotency_mismatch', JSON.stringify(other));
  });

  it('lists the streams a key may use, with their schema as Arrow; Handshake takes the bearer key', async () => {
    const stream = await service.createStream({ schema: { columns: ALL_TYPES } });
    await service.createStream({ schema: { columns: ALL_TYPES } });
    const ownKey = (await service.createKey([stream.name])).key;
    const flights = await collect<{ flight_descriptor: { path: string[] } }>(client, 'ListFlights', {}, bearer(ownKey));
    assert.deepEqual(
      flights.map((flight) => flight.flight_descriptor.path),
      [[stream.name]],
    );

    const info = await unary<{ schema: Buffer; flight_descriptor: { path: string[] } }>(
      client,
      'GetFlightInfo',
      pathTo(stream.name),
      bearer(ownKey),
    );
    const schema = await unary<{ schema: Buffer }>(client, 'GetSchema', pathTo(stream.name), bearer(ownKey));
    assert.deepEqual(info.schema, schema.schema);
    const decoded = (RecordBatchReader.from([new Uint8Array(schema.schema)]) as RecordBatchStreamReader).open().schema;
    assert.deepEqual(
      decoded.fields.map((field) => `${field.name}:${field.type}:${field.nullable}`),
      [
        'id:Int64:false',
        'label:Utf8:true',
        'qty:Int32:true',
        'big:Int64:true',
        'price:Float64:true',
        'ok:Bool:true',
        'at:Timestamp<MICROSECOND, UTC>:true',
        'day:Date32<DAY>:true',
      ],
    );
    await assert.rejects(unary(client, 'GetSchema', pathTo('no_such_stream'), bearer(key)), { code: grpc.status.NOT_FOUND });
    await assert.rejects(collect(client, 'ListFlights', {}, bearer('slk_not_a_real_key_000000000000000')), {
      code: grpc.status.UNAUTHENTICATED,
    });
    assert.deepEqual(await collect(client, 'ListActions', {}, bearer(ownKey)), []);

    const handshake = await new Promise<{ authorization: string | undefined; payloads: number }>((resolve, reject) => {
      const call = client.Handshake!(new grpc.Metadata()) as grpc.ClientDuplexStream<object, object>;
      let authorization: string | undefined;
      let payloads = 0;
      call.on('metadata', (metadata: grpc.Metadata) => {
        authorization = String(metadata.get('authorization')[0]);
      });
      call.on('data', () => payloads++);
      call.on('error', reject);
      call.on('end', () => resolve({ authorization, payloads }));
      call.write({ protocol_version: 0, payload: Buffer.from(ownKey) });
      call.end();
    });
    assert.deepEqual(handshake, { authorization: `Bearer ${ownKey}`, payloads: 1 });
  });

  it('counts Arrow bytes and Flight calls in the metrics', async () => {
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(metrics, /sluice_bytes_received_total\{stream="[^"]+",format="arrow"\} [1-9]/);
    assert.match(metrics, /sluice_request_duration_seconds_count\{route="flight",status="OK"\} [1-9]/);
    assert.match(metrics, /sluice_request_duration_seconds_count\{route="flight",status="UNAUTHENTICATED"\} [1-9]/);
  });
});

describe('Arrow Flight: a call that goes quiet', () => {
  let service: TestService;
  before(async () => {
    service = await startTestService({ env: { INGEST_IDLE_TIMEOUT_MS: '500' } });
  });
  after(() => service.close());

  it('ends with DEADLINE_EXCEEDED (ingest.body_timeout) once it has sent nothing for INGEST_IDLE_TIMEOUT_MS', async () => {
    const stream = await service.createStream({ schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] } });
    const key = (await service.createKey([stream.name])).key;
    const client = flightClient(`127.0.0.1:${service.app.flight!.port}`);
    try {
      const batches = Array.from({ length: 4 }, (_, b) => ({ id: dataOf(new Int64(), [BigInt(b)], BigInt64Array) }));
      // The schema and one batch, then nothing, the call left open.
      const put = await doPut(client, key, flightData(ipcStream(batches), pathTo(stream.name)), { stopAfter: 2 });
      assert.ok(!put.ok && put.code === grpc.status.DEADLINE_EXCEEDED && put.sluiceCode === 'ingest.body_timeout', JSON.stringify(put));
    } finally {
      client.close();
    }
  });
});

describe('Arrow Flight: error details in a trailer', () => {
  it('keep within 6 KiB, the rejected rows past it left out and counted', () => {
    const errors = Array.from({ length: 100 }, (_, i) => ({
      line: i + 1,
      column: 'id',
      code: 'row.invalid_value',
      message: `${'é'.repeat(60)} ${i}`,
    }));
    const bytes = detailsBytes({ rowsAccepted: 0, rowsRejected: 100, errors });
    assert.ok(bytes.length <= 6 * 1024, `${bytes.length} bytes`);
    const details = JSON.parse(bytes.toString('utf8'));
    assert.equal(details.errors.length + details.errorsOmitted, 100);
    assert.deepEqual(details.errors[0], errors[0]);
    const small = { rowsAccepted: 0, rowsRejected: 1, errors: errors.slice(0, 1) };
    assert.deepEqual(JSON.parse(detailsBytes(small).toString('utf8')), small, 'details that fit go whole');
  });
});
