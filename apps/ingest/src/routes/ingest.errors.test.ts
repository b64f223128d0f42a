/**
 * Refusals and bad input, grouped by outcome. Every error uses the shared shape with a stable code, rows
 * are rejected with their line and column, and after each case the service still stores good rows.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { Column, IngestResultDto, StreamDto } from '@sluice/shared';
import { startTestService, uniqueName, type TestService } from '../test/harness';
import { listStreamObjects, readStream } from '../test/read-back';

const columns: Column[] = [
  { name: 'id', type: 'int32', nullable: false },
  { name: 'name', type: 'string', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
];

let service: TestService;
let stream: StreamDto;
let key: string;
let goodRows = 0;

async function expectError(response: Response, status: number, code: string) {
  const body = (await response.json()) as { error: { code: string; message: string; requestId: string } };
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
  assert.equal(body.error.requestId, response.headers.get('x-request-id'));
  return body;
}

/** The service still takes good rows, and stores them. */
async function stillServes() {
  goodRows++;
  const response = await service.post(stream.name, key, `id,name\n${1000 + goodRows},ok\n`);
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal(((await response.json()) as IngestResultDto).rowsAccepted, 1);
}

before(async () => {
  service = await startTestService({ env: { MAX_BODY_BYTES: '4096', MAX_LINE_BYTES: '64', KEY_CACHE_TTL_MS: '2000' } });
  stream = await service.createStream({ schema: { columns } });
  key = (await service.createKey([stream.name])).key;
});
after(() => service.close());

describe('200 with rejected rows: bad rows are reported by line, good neighbours are stored', () => {
  it('wrong field counts, out-of-range integers, bad timestamps, over-long lines, an unterminated quote', async () => {
    const body = [
      'id,name,at',
      '1,ok,2024-01-01T00:00:00Z',
      '2,too,many,fields',
      '3',
      '4294967296,big,',
      '5,bad time,2024-13-01T00:00:00Z',
      `6,${'x'.repeat(80)},`,
      '7,fine,1700000000',
      '8,"never closed',
    ].join('\n');
    const response = await service.post(stream.name, key, body);
    const result = (await response.json()) as IngestResultDto;
    assert.equal(response.status, 200);
    assert.equal(result.rowsAccepted, 2);
    assert.equal(result.rowsRejected, 6);
    assert.deepEqual(
      result.errors.map((e) => [e.line, e.column, e.code]),
      [
        [3, null, 'row.field_count'],
        [4, null, 'row.field_count'],
        [5, 'id', 'row.invalid_value'],
        [6, 'at', 'row.invalid_value'],
        [7, null, 'row.line_too_long'],
        [9, 'name', 'row.unterminated_quote'],
      ],
    );
    const stored = await readStream(service.app.store, stream.name);
    assert.deepEqual(
      stored.filter((r) => (r.id as number) < 1000).map((r) => r.id),
      [1, 7],
    );
    await stillServes();
  });

  it('invalid UTF-8 rejects the line', async () => {
    const body = Buffer.concat([Buffer.from('id,name\n10,a\n11,'), Buffer.from([0xff, 0xfe]), Buffer.from('\n12,c\n')]);
    const result = (await (await service.post(stream.name, key, body)).json()) as IngestResultDto;
    assert.equal(result.rowsAccepted, 2);
    assert.deepEqual(
      result.errors.map((e) => [e.line, e.code]),
      [[3, 'row.invalid_utf8']],
    );
    await stillServes();
  });

  it('a header with no rows stores nothing and says so', async () => {
    const response = await service.post(stream.name, key, 'id,name\n');
    const result = (await response.json()) as IngestResultDto;
    assert.equal(response.status, 200);
    assert.equal(result.rowsAccepted, 0);
    assert.deepEqual(result.files, []);
    await stillServes();
  });
});

describe('400 malformed body', () => {
  it('an empty body', async () => {
    await expectError(await service.post(stream.name, key, ''), 400, 'ingest.malformed_body');
    await stillServes();
  });

  it('duplicate header names', async () => {
    const body = await expectError(await service.post(stream.name, key, 'id,name,id\n1,a,2\n'), 400, 'ingest.malformed_body');
    assert.match(body.error.message, /names column "id" twice/);
    await stillServes();
  });

  it('a header without a required column', async () => {
    const body = await expectError(await service.post(stream.name, key, 'name\na\n'), 400, 'ingest.malformed_body');
    assert.match(body.error.message, /lacks required column "id"/);
    await stillServes();
  });

  it('truncated gzip, and nothing of it is stored', async () => {
    const gz = gzipSync(Buffer.from(`id,name\n${Array.from({ length: 50 }, (_, i) => `${i + 500},x`).join('\n')}\n`));
    const response = await service.post(stream.name, key, gz.subarray(0, gz.length - 20), { 'content-encoding': 'gzip' });
    await expectError(response, 400, 'ingest.malformed_body');
    const stored = await readStream(service.app.store, stream.name);
    assert.equal(stored.filter((r) => (r.id as number) >= 500 && (r.id as number) < 1000).length, 0);
    await stillServes();
  });

  it('a JSON body for the admin API that is not valid', async () => {
    const response = await service.admin('POST', '/v1/admin/streams', { name: 'Bad Name', schema: { columns: [] } });
    const body = await expectError(response, 400, 'request.invalid');
    assert.match(body.error.message, /stream name|columns/);
  });
});

describe('401 unauthenticated', () => {
  it('no key, a malformed key, an unknown key', async () => {
    await expectError(
      await fetch(`${service.url}/v1/streams/${stream.name}/rows`, { method: 'POST', body: 'id\n1\n' }),
      401,
      'auth.missing_key',
    );
    await expectError(await service.post(stream.name, 'not-a-key', 'id\n1\n'), 401, 'auth.invalid_key');
    await expectError(await service.post(stream.name, `slk_${'1'.repeat(32)}`, 'id\n1\n'), 401, 'auth.invalid_key');
    await stillServes();
  });

  it('a revoked key is refused within 5 s', async () => {
    const created = await service.createKey([stream.name]);
    assert.equal((await service.post(stream.name, created.key, 'id\n2000\n')).status, 200);
    const revoke = await service.admin('DELETE', `/v1/admin/keys/${created.id}`);
    assert.equal(revoke.status, 200);
    assert.equal(((await revoke.json()) as { status: string }).status, 'revoked');
    const revokedAt = Date.now();
    let status = 0;
    while (Date.now() - revokedAt < 5000) {
      const response = await service.post(stream.name, created.key, 'id\n2001\n');
      status = response.status;
      if (status === 401) {
        await expectError(response, 401, 'auth.revoked_key');
        break;
      }
      await response.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(status, 401, 'refused within 5 s of revocation');
    await stillServes();
  });

  it('the admin API without the token, or with a wrong one', async () => {
    await expectError(await fetch(`${service.url}/v1/admin/streams`), 401, 'admin.unauthorized');
    await expectError(
      await fetch(`${service.url}/v1/admin/keys`, { headers: { authorization: `Bearer ${key}` } }),
      401,
      'admin.unauthorized',
    );
  });
});

describe('403 forbidden', () => {
  it('a key for another stream', async () => {
    const other = await service.createStream({ schema: { columns } });
    await expectError(await service.post(other.name, key, 'id\n1\n'), 403, 'auth.stream_forbidden');
    await expectError(
      await fetch(`${service.url}/v1/streams/${other.name}/files`, { headers: { authorization: `Bearer ${key}` } }),
      403,
      'auth.stream_forbidden',
    );
    await stillServes();
  });
});

describe('404 not found', () => {
  it('an unknown stream', async () => {
    const allStreams = await service.createKey('*');
    await expectError(await service.post(uniqueName('missing'), allStreams.key, 'id\n1\n'), 404, 'stream.not_found');
    await stillServes();
  });
});

/** A CSV body of exactly `size` bytes (rows of at most MAX_LINE_BYTES), ids from `first`. */
function bodyOfSize(size: number, first: number): string {
  let body = 'id,name\n';
  let id = first;
  while (size - body.length > 40) body += `${id++},${'n'.repeat(30 - String(id).length)}\n`;
  const last = `${id},`;
  return `${body}${last}${'n'.repeat(size - body.length - last.length - 1)}\n`;
}

describe('413 too large', () => {
  it('MAX_BODY_BYTES at its edge: exactly the limit is stored, one byte more is refused', async () => {
    const exact = bodyOfSize(4096, 4000);
    assert.equal(Buffer.byteLength(exact), 4096);
    const asStream = (text: string) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(Buffer.from(text));
          controller.close();
        },
      });
    for (const body of [exact, asStream(exact)]) {
      const response = await service.post(stream.name, key, body);
      assert.equal(response.status, 200, await response.clone().text());
      assert.equal(((await response.json()) as IngestResultDto).rowsRejected, 0);
    }
    const over = bodyOfSize(4097, 4500);
    await expectError(await service.post(stream.name, key, over), 413, 'ingest.payload_too_large');
    await expectError(await service.post(stream.name, key, asStream(over)), 413, 'ingest.payload_too_large');
    await stillServes();
  });

  it('a declared Content-Length over MAX_BODY_BYTES is refused before the body is read', async () => {
    const body = `id,name\n${Array.from({ length: 1000 }, (_, i) => `${i},n`).join('\n')}\n`;
    assert.ok(body.length > 4096);
    await expectError(await service.post(stream.name, key, body), 413, 'ingest.payload_too_large');
    await stillServes();
  });

  it('a chunked body that grows past MAX_BODY_BYTES', async () => {
    const pieces = Array.from({ length: 100 }, (_, i) => `${i + 3000},${'n'.repeat(40)}\n`);
    let sent = false;
    const bodyStream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          controller.enqueue(Buffer.from('id,name\n'));
          sent = true;
        }
        const next = pieces.shift();
        if (next) controller.enqueue(Buffer.from(next));
        else controller.close();
      },
    });
    await expectError(await service.post(stream.name, key, bodyStream), 413, 'ingest.payload_too_large');
    await stillServes();
  });
});

describe('refusals before the body is read', () => {
  /** Sends headers and a first piece of a body that claims `declared` bytes; resolves with the answer. */
  function refusedUpload(declared: number, sent = 'id,name\n1,a\n'): Promise<{ status: number; connection: string | undefined }> {
    return new Promise((resolve, reject) => {
      const request = http.request(`${service.url}/v1/streams/${stream.name}/rows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', 'content-length': String(declared) },
      });
      request.on('response', (response) => {
        response.resume();
        resolve({ status: response.statusCode ?? 0, connection: response.headers.connection });
        request.destroy();
      });
      request.on('error', reject);
      request.write(sent);
    });
  }

  it('keep the connection for a body small enough to drain (up to 16 MiB) that arrives whole, close it for a larger one or one that stops', async () => {
    const whole = `id,name\n${'1,a\n'.repeat(2046)}`;
    const drained = await refusedUpload(whole.length, whole);
    assert.equal(drained.status, 413);
    assert.notEqual(drained.connection, 'close', 'answered once the rest was read: the connection stays');
    const closed = await refusedUpload(16 * 1024 * 1024 + 1);
    assert.equal(closed.status, 413);
    assert.equal(closed.connection, 'close');
    const stopped = await refusedUpload(8192);
    assert.equal(stopped.status, 413);
    assert.equal(stopped.connection, 'close', 'the rest never came: the connection goes');
    await stillServes();
  });
});

describe('415 unsupported media', () => {
  it('an unknown content type', async () => {
    await expectError(
      await service.post(stream.name, key, '{"id":1}', { 'content-type': 'application/xml' }),
      415,
      'ingest.unsupported_media_type',
    );
    await stillServes();
  });

  it('an unsupported content encoding', async () => {
    await expectError(await service.post(stream.name, key, 'id\n1\n', { 'content-encoding': 'br' }), 415, 'ingest.unsupported_encoding');
    await stillServes();
  });
});

describe('422 all-or-nothing', () => {
  it('one bad row and nothing is stored', async () => {
    const strict = await service.createStream({ schema: { columns }, rejectMode: 'all-or-nothing' });
    const strictKey = (await service.createKey([strict.name])).key;
    const response = await service.post(strict.name, strictKey, 'id,name\n1,a\n2,b\nthree,c\n4,d\n');
    const body = (await expectError(response, 422, 'ingest.rows_rejected')) as unknown as {
      error: { details: { rowsRejected: number; errors: { line: number; column: string }[] } };
    };
    assert.equal(body.error.details.rowsRejected, 1);
    assert.deepEqual(
      body.error.details.errors.map((e) => [e.line, e.column]),
      [[4, 'id']],
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(await listStreamObjects(service.app.store, strict.name), []);

    const clean = await service.post(strict.name, strictKey, 'id,name\n1,a\n2,b\n');
    assert.equal(clean.status, 200);
    assert.deepEqual(
      (await readStream(service.app.store, strict.name)).map((r) => r.id),
      [1, 2],
    );
  });
});
