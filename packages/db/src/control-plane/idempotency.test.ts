import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { createDb, type Db } from '../client';
import { applyMigrations } from '../migrate';
import { abandonDataFile, commitDataFile, commitDataFiles, listDataFiles, reserveDataFile } from './files';
import {
  claimIdempotencyKey,
  claimIdempotencyKeys,
  endIdempotencyAttempt,
  endIdempotencyAttempts,
  mergeSpans,
  purgeIdempotencyKeys,
  renewIdempotencyLease,
  type ClaimOptions,
} from './idempotency';
import { createStream } from './streams';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;

describe('idempotency keys', () => {
  let url: string;
  let db: Db;
  let streamId: string;
  let fileNumber = 0;
  const claim = (key: string, holder: string, leaseMs = 60_000): Promise<Awaited<ReturnType<typeof claimIdempotencyKey>>> =>
    claimIdempotencyKey(db, { streamId, key, holder, leaseMs, ttlHours: 24 } satisfies ClaimOptions);
  const reserve = async () => {
    const key = `events/dt=2026-12-01/hour=11/${String(++fileNumber).padStart(4, '0')}.parquet`;
    await reserveDataFile(db, { streamId, schemaVersion: 1, key, rows: 10, bytes: 100, clickhouse: 'skipped' });
    return key;
  };

  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_idem');
    await applyMigrations({ databaseUrl: url });
    db = createDb(url);
    streamId = (await createStream(db, { name: 'events', schema: { columns: [{ name: 'id', type: 'int64' }] } })).id;
  });
  after(async () => {
    await db.$disconnect();
    await dropDatabase(adminUrl, url);
  });

  it('merges spans that overlap or touch', () => {
    assert.deepEqual(
      mergeSpans([
        [20, 30],
        [1, 10],
        [11, 15],
        [25, 40],
        [50, 50],
      ]),
      [
        [1, 15],
        [20, 40],
        [50, 50],
      ],
    );
  });

  it('a key is claimed once; a second attempt meanwhile is told to come back; an ended attempt frees it', async () => {
    const first = await claim('k1', 'req-a');
    assert.equal(first.kind, 'claimed');
    const second = await claim('k1', 'req-b');
    assert.equal(second.kind, 'in_flight');
    assert.ok(second.kind === 'in_flight' && second.retryAfterSeconds >= 1 && second.retryAfterSeconds <= 60);
    assert.ok(first.kind === 'claimed');
    assert.equal(await endIdempotencyAttempt(db, first.id, 'req-a', { state: 'partial' }), true);
    const third = await claim('k1', 'req-b');
    assert.ok(third.kind === 'claimed' && third.attempt === 2 && third.id === first.id);
    assert.equal(await endIdempotencyAttempt(db, first.id, 'req-a', { state: 'completed' }), false, 'a former holder cannot end it');
  });

  it('a dead holder frees the key when its lease runs out; renewing keeps it', async () => {
    const first = await claim('k2', 'req-dead', 300);
    assert.ok(first.kind === 'claimed');
    assert.equal(await renewIdempotencyLease(db, first.id, 'req-dead', 300), true);
    assert.equal((await claim('k2', 'req-next')).kind, 'in_flight');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const next = await claim('k2', 'req-next');
    assert.ok(next.kind === 'claimed');
    assert.equal(await renewIdempotencyLease(db, first.id, 'req-dead', 300), false, 'the dead holder lost it');
  });

  it('learns the lines committed files hold, not those of files never committed', async () => {
    const first = await claim('k3', 'req-a');
    assert.ok(first.kind === 'claimed');
    const [a, b, c] = [await reserve(), await reserve(), await reserve()];
    assert.equal(await commitDataFile(db, a, [{ idempotencyKeyId: first.id, holder: 'req-a', fromLine: 1, toLine: 100 }]), true);
    assert.equal(await commitDataFile(db, b, [{ idempotencyKeyId: first.id, holder: 'req-a', fromLine: 101, toLine: 180 }]), true);
    // c is put but its commit never happens (the process died): its lines are not stored.
    void c;
    assert.equal(await endIdempotencyAttempt(db, first.id, 'req-a', { state: 'partial' }), true);
    const retry = await claim('k3', 'req-b');
    assert.ok(retry.kind === 'claimed');
    assert.deepEqual(retry.committed, [[1, 180]]);
  });

  it('a file holding the lines of an attempt that lost its key is not committed', async () => {
    const first = await claim('k7', 'req-slow', 300);
    assert.ok(first.kind === 'claimed');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const second = await claim('k7', 'req-next');
    assert.ok(second.kind === 'claimed', 'the lease ran out: another attempt took the key');
    const late = await reserve();
    assert.equal(await commitDataFile(db, late, [{ idempotencyKeyId: first.id, holder: 'req-slow', fromLine: 1, toLine: 50 }]), false);
    const mine = await reserve();
    assert.equal(await commitDataFile(db, mine, [{ idempotencyKeyId: first.id, holder: 'req-next', fromLine: 1, toLine: 50 }]), true);
    await endIdempotencyAttempt(db, second.id, 'req-next', { state: 'partial' });
    const third = await claim('k7', 'req-third');
    assert.ok(third.kind === 'claimed');
    assert.deepEqual(third.committed, [[1, 50]], 'only the lines of the holder are stored');
  });

  it('a completed key is answered with what it kept, and its body digest', async () => {
    const first = await claim('k4', 'req-a');
    assert.ok(first.kind === 'claimed');
    const response = { rowsAccepted: 3, rowsRejected: 0 };
    await endIdempotencyAttempt(db, first.id, 'req-a', {
      state: 'completed',
      status: 200,
      response,
      bodySha256: 'ab'.repeat(32),
      bodyBytes: 10,
    });
    const replay = await claim('k4', 'req-b');
    assert.deepEqual(replay, { kind: 'completed', status: 200, response, bodySha256: 'ab'.repeat(32) });
  });

  it('claims many keys in one call: new, held, answered, resumable and the same key twice, each answered in order', async () => {
    const held = await claim('b-held', 'req-x');
    const done = await claim('b-done', 'req-x');
    const resumable = await claim('b-partial', 'req-x');
    assert.ok(held.kind === 'claimed' && done.kind === 'claimed' && resumable.kind === 'claimed');
    await endIdempotencyAttempt(db, done.id, 'req-x', { state: 'completed', status: 200, response: { rowsAccepted: 1 } });
    const file = await reserve();
    await commitDataFile(db, file, [{ idempotencyKeyId: resumable.id, holder: 'req-x', fromLine: 1, toLine: 7 }]);
    await endIdempotencyAttempt(db, resumable.id, 'req-x', { state: 'partial' });

    const ask = (key: string, holder: string): ClaimOptions => ({ streamId, key, holder, leaseMs: 60_000, ttlHours: 24 });
    const claims = await claimIdempotencyKeys(db, [
      ask('b-new', 'req-1'),
      ask('b-held', 'req-2'),
      ask('b-done', 'req-3'),
      ask('b-partial', 'req-4'),
      ask('b-twice', 'req-5'),
      ask('b-twice', 'req-6'),
    ]);
    assert.deepEqual(
      claims.map((c) => c.kind),
      ['claimed', 'in_flight', 'completed', 'claimed', 'claimed', 'in_flight'],
    );
    assert.ok(claims[0]!.kind === 'claimed' && claims[0]!.attempt === 1 && claims[0]!.committed.length === 0);
    assert.deepEqual(claims[2], { kind: 'completed', status: 200, response: { rowsAccepted: 1 }, bodySha256: null });
    assert.ok(claims[3]!.kind === 'claimed' && claims[3]!.id === resumable.id && claims[3]!.attempt === 2);
    assert.deepEqual(claims[3]!.committed, [[1, 7]]);
    const holders = await db.idempotencyKey.findMany({ where: { key: 'b-twice' }, select: { holder: true } });
    assert.deepEqual(holders, [{ holder: 'req-5' }], 'the first to ask holds it');
  });

  it('ends many attempts in one call, keeping each answer; one whose holder lost the key is refused', async () => {
    const [a, b, c] = [await claim('e-a', 'req-a'), await claim('e-b', 'req-b'), await claim('e-c', 'req-c')];
    assert.ok(a.kind === 'claimed' && b.kind === 'claimed' && c.kind === 'claimed');
    const ended = await endIdempotencyAttempts(db, [
      {
        id: a.id,
        holder: 'req-a',
        end: { state: 'completed', status: 200, response: { rows: 1 }, bodySha256: 'cd'.repeat(32), bodyBytes: 5 },
      },
      { id: b.id, holder: 'req-b', end: { state: 'partial' } },
      { id: c.id, holder: 'req-someone-else', end: { state: 'completed', status: 200, response: {} } },
    ]);
    assert.deepEqual(ended, [true, true, false]);
    const rows = await db.idempotencyKey.findMany({
      where: { key: { in: ['e-a', 'e-b', 'e-c'] } },
      orderBy: { key: 'asc' },
      select: { key: true, state: true, holder: true, status: true, response: true, bodySha256: true, bodyBytes: true },
    });
    assert.deepEqual(rows, [
      { key: 'e-a', state: 'completed', holder: null, status: 200, response: { rows: 1 }, bodySha256: 'cd'.repeat(32), bodyBytes: 5n },
      { key: 'e-b', state: 'partial', holder: null, status: null, response: null, bodySha256: null, bodyBytes: null },
      { key: 'e-c', state: 'in_flight', holder: 'req-c', status: null, response: null, bodySha256: null, bodyBytes: null },
    ]);
  });

  it('commits several files together, or none when one was given up', async () => {
    const visible = async (key: string) => (await listDataFiles(db, 'events', { limit: 500 })).files.some((file) => file.key === key);
    const [a, b] = [await reserve(), await reserve()];
    assert.equal(
      await commitDataFiles(db, [
        { key: a, spans: [] },
        { key: b, spans: [] },
      ]),
      true,
    );
    assert.equal((await visible(a)) && (await visible(b)), true);

    const [c, d] = [await reserve(), await reserve()];
    const rows = await db.dataFile.findMany({ where: { objectKey: d }, select: { id: true } });
    await abandonDataFile(db, rows[0]!.id);
    assert.equal(
      await commitDataFiles(db, [
        { key: c, spans: [] },
        { key: d, spans: [] },
      ]),
      false,
    );
    assert.equal(await visible(c), false, 'the other file stays uncommitted');
  });

  it('purges expired keys with their spans, but not one an attempt holds', async () => {
    const held = await claim('k5', 'req-a');
    const done = await claim('k6', 'req-a');
    assert.ok(held.kind === 'claimed' && done.kind === 'claimed');
    await endIdempotencyAttempt(db, done.id, 'req-a', { state: 'completed', status: 200, response: {} });
    await db.$executeRaw`UPDATE "IdempotencyKey" SET "expiresAt" = now() - interval '1 second' WHERE "key" IN ('k5', 'k6')`;
    assert.equal(await purgeIdempotencyKeys(db), 1);
    const left = await db.idempotencyKey.findMany({ where: { key: { in: ['k5', 'k6'] } }, select: { key: true } });
    assert.deepEqual(
      left.map((row) => row.key),
      ['k5'],
    );
  });
});
