import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { createDb, type Db } from '../client';
import { applyMigrations } from '../migrate';
import { abandonDataFile, commitDataFile, commitDataFiles, listDataFiles, reserveDataFile } from './files';
import {
  claimIdempotencyKey,
  endIdempotencyAttempt,
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
