/**
 * Idempotency-Key over a real service, Postgres and lake folder: replays, a different body, a key in use,
 * a holder that died, a request cut off part-way and retried, and all-or-nothing across files. Rows are
 * read back with DuckDB from the files the manifest lists, as a reader would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { claimIdempotencyKey } from '@sluice/db';
import type { IngestResultDto, StreamDto } from '@sluice/shared';
import { startTestService, type TestService } from '../test/harness';
import { listStreamObjects, queryParquet } from '../test/read-back';

const columns = [
  { name: 'id', type: 'int64' as const, nullable: false },
  { name: 'v', type: 'string' as const, nullable: true },
];

function csv(from: number, count: number, pad = 0): string {
  return `id,v\n${Array.from({ length: count }, (_, i) => `${from + i},value ${from + i}${'.'.repeat(pad)}`).join('\n')}\n`;
}

let service: TestService;
let key: string;
before(async () => {
  service = await startTestService({
    env: { IDEMPOTENCY_LEASE_MS: '600', SINK_RETRY_ATTEMPTS: '2', SINK_RETRY_BASE_MS: '10', SINK_RETRY_MAX_MS: '20' },
  });
  key = (await service.createKey('*')).key;
});
after(() => service.close());

async function committedFiles(stream: StreamDto): Promise<string[]> {
  const listed = (await (await service.admin('GET', `/v1/streams/${stream.name}/files?limit=500`)).json()) as { files: { key: string }[] };
  return listed.files.map((file) => file.key);
}

/** Rows of the stream's committed files: how many, and how many distinct ids. */
async function stored(stream: StreamDto): Promise<{ n: number; d: number }> {
  const files = await committedFiles(stream);
  if (files.length === 0) return { n: 0, d: 0 };
  const [counts] = await queryParquet(
    service.app.store,
    files,
    'SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS d FROM data',
  );
  return counts as { n: number; d: number };
}

/** A body sent in pieces, the next piece only when `next()` is called (or all at once with `rest()`). */
function trickle(pieces: string[]) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  const encoder = new TextEncoder();
  return {
    body,
    next() {
      controller.enqueue(encoder.encode(pieces[sent++]!));
    },
    end() {
      while (sent < pieces.length) this.next();
      controller.close();
    },
    cut() {
      controller.error(new Error('the producer went away'));
    },
  };
}

describe('Idempotency-Key', () => {
  it('replays an answered key for the same body, storing nothing; refuses another body with 422', async () => {
    const stream = await service.createStream({ schema: { columns } });
    const body = `${csv(0, 1000)}oops,bad\n`;
    const first = await service.post(stream.name, key, body, { 'idempotency-key': 'order-1' });
    const answer = (await first.json()) as IngestResultDto;
    assert.equal(first.status, 200, JSON.stringify(answer));
    assert.equal(first.headers.get('idempotency-replayed'), null);
    assert.deepEqual([answer.rowsAccepted, answer.rowsAlreadyStored, answer.rowsRejected], [1000, 0, 1]);
    const files = await committedFiles(stream);

    const again = await service.post(stream.name, key, body, { 'idempotency-key': 'order-1' });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotency-replayed'), 'true');
    assert.deepEqual(await again.json(), answer, 'the same answer, request id included');
    assert.deepEqual(await committedFiles(stream), files, 'no new file');

    const other = await service.post(stream.name, key, csv(0, 1001), { 'idempotency-key': 'order-1' });
    assert.equal(other.status, 422);
    assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'ingest.idempotency_mismatch');
    assert.deepEqual(await stored(stream), { n: 1000, d: 1000 });

    // The key is the stream's: the same key on another stream is another key.
    const elsewhere = await service.createStream({ schema: { columns } });
    const there = await service.post(elsewhere.name, key, body, { 'idempotency-key': 'order-1' });
    assert.equal(there.status, 200);
    assert.equal(there.headers.get('idempotency-replayed'), null);
  });

  it('refuses a malformed key with 400 and stores nothing', async () => {
    const stream = await service.createStream({ schema: { columns } });
    for (const bad of ['x'.repeat(201), 'caf\u00e9', 'tab\there']) {
      const response = await service.post(stream.name, key, csv(0, 10), { 'idempotency-key': bad }).catch(() => null);
      // undici itself refuses some header values; the service refuses the rest.
      if (response) {
        assert.equal(response.status, 400, bad);
        assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'ingest.invalid_idempotency_key');
      }
    }
    const longest = await service.post(stream.name, key, csv(0, 10), { 'idempotency-key': 'k'.repeat(200) });
    assert.equal(longest.status, 200, '200 characters is the limit, inclusive');
    assert.deepEqual(await stored(stream), { n: 10, d: 10 });
  });

  it('a key in use by another request gets 409 with Retry-After; a dead holder frees it when its lease runs out', async () => {
    const stream = await service.createStream({ schema: { columns } });
    const slow = trickle([csv(0, 100), csv(100, 100).slice('id,v\n'.length)]);
    const pending = service.post(stream.name, key, slow.body, { 'idempotency-key': 'busy' });
    slow.next();
    for (let waited = 0; (await service.app.db.idempotencyKey.count({ where: { key: 'busy' } })) === 0; waited += 20) {
      assert.ok(waited < 5000, 'the first request claimed the key');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Longer than the lease (600 ms): the holder renews it while it runs.
    await new Promise((resolve) => setTimeout(resolve, 900));
    const second = await service.post(stream.name, key, csv(0, 200), { 'idempotency-key': 'busy' });
    assert.equal(second.status, 409);
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
    assert.equal(((await second.json()) as { error: { code: string } }).error.code, 'ingest.idempotency_in_flight');
    slow.end();
    assert.equal((await pending).status, 200);
    assert.deepEqual(await stored(stream), { n: 200, d: 200 });

    // A holder that died (a claim nobody ends or renews): free once its lease has run out.
    await claimIdempotencyKey(service.app.db, { streamId: stream.id, key: 'orphaned', holder: 'req_gone', leaseMs: 600, ttlHours: 1 });
    assert.equal((await service.post(stream.name, key, csv(500, 10), { 'idempotency-key': 'orphaned' })).status, 409);
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.equal((await service.post(stream.name, key, csv(500, 10), { 'idempotency-key': 'orphaned' })).status, 200);
  });

  it('a request cut off part-way, retried with its key, stores each line exactly once', async () => {
    const stream = await service.createStream({ schema: { columns }, batch: { maxRows: 2000, maxAgeMs: 100 } });
    // Pieces of ~1.1 MB: the service parses a body in blocks of 1 MiB.
    const total = 50_000;
    const pieces = Array.from({ length: 10 }, (_, i) => csv(i * 5000, 5000, 200).slice(i === 0 ? 0 : 'id,v\n'.length));
    const body = pieces.join('');
    const cut = trickle(pieces);
    const first = service.post(stream.name, key, cut.body, { 'idempotency-key': 'cut-off' }).catch((error: Error) => error);
    for (let i = 0; i < 5; i++) cut.next();
    // Some of what was sent is committed before the producer goes away.
    for (let waited = 0; (await committedFiles(stream)).length < 3; waited += 50) {
      assert.ok(waited < 10_000, 'files were committed');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    cut.cut();
    assert.ok((await first) instanceof Error, 'the first attempt got no answer');
    const before = await stored(stream);
    assert.ok(before.n > 0 && before.n < total, `${before.n} rows stored by the first attempt`);

    let retry: Response;
    // The cut-off attempt may still hold the key for a moment: 409 says to come back.
    for (let tries = 0; ; tries++) {
      retry = await service.post(stream.name, key, body, { 'idempotency-key': 'cut-off' });
      if (retry.status !== 409 || tries > 20) break;
      await new Promise((resolve) => setTimeout(resolve, Number(retry.headers.get('retry-after')) * 100));
    }
    const answer = (await retry.json()) as IngestResultDto;
    assert.equal(retry.status, 200, JSON.stringify(answer));
    assert.equal(answer.rowsAccepted, total, 'the answer counts the whole body');
    assert.ok(answer.rowsAlreadyStored >= before.n, `rowsAlreadyStored ${answer.rowsAlreadyStored}`);
    assert.deepEqual(await stored(stream), { n: total, d: total });
  });

  it('all-or-nothing across three files, the store failing at the second: nothing visible, nothing left behind', async () => {
    const stream = await service.createStream({ schema: { columns }, rejectMode: 'all-or-nothing', batch: { maxRows: 1000 } });
    const store = service.app.store;
    // The fake (a fault no real server shows on cue): every put after the first fails.
    const put = store.put.bind(store);
    let puts = 0;
    store.put = (objectKey, bytes) => (++puts === 1 ? put(objectKey, bytes) : Promise.reject(new Error('fake fault: the store refuses')));
    let failed: Response;
    try {
      failed = await service.post(stream.name, key, csv(0, 3000), { 'idempotency-key': 'three-files' });
    } finally {
      store.put = put;
    }
    assert.equal(failed.status, 503);
    assert.ok(puts >= 2, `${puts} puts`);
    assert.deepEqual(await committedFiles(stream), [], 'no file is visible');
    assert.deepEqual(await listStreamObjects(store, stream.name), [], 'the file that was put is deleted');

    // The body on record is checked before the retry's files commit: a different one stores nothing.
    const other = await service.post(stream.name, key, csv(0, 2999), { 'idempotency-key': 'three-files' });
    assert.equal(other.status, 422);
    assert.deepEqual(await committedFiles(stream), []);

    const retry = await service.post(stream.name, key, csv(0, 3000), { 'idempotency-key': 'three-files' });
    const answer = (await retry.json()) as IngestResultDto;
    assert.equal(retry.status, 200, JSON.stringify(answer));
    assert.equal(answer.files.length, 3);
    assert.deepEqual(await stored(stream), { n: 3000, d: 3000 });
  });
});
