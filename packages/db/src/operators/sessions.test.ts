import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDatabase, DEFAULT_ADMIN_URL, dropDatabase } from '@sluice/testkit';
import { createDb, type Db } from '../client';
import { applyMigrations } from '../migrate';
import { createSession, endOtherSessions, findActiveSession, purgeExpiredSessions } from './sessions';

const adminUrl = process.env.TEST_ADMIN_DATABASE_URL ?? DEFAULT_ADMIN_URL;
const hour = 3600_000;

describe('console sessions', () => {
  let url: string;
  let db: Db;
  const operatorId = 'op_sessions';
  before(async () => {
    url = await createDatabase(adminUrl, 'sluice_sessions');
    await applyMigrations({ databaseUrl: url });
    db = createDb(url);
    await db.operator.create({ data: { id: operatorId, email: 'ops@example.com', passwordHash: 'x' } });
  });
  after(async () => {
    await db.$disconnect();
    await dropDatabase(adminUrl, url);
  });

  it('ends a session idle for longer than the idle limit, though not yet expired', async () => {
    const now = Date.now();
    await createSession(db, { operatorId, tokenHash: 'idle', expiresAt: new Date(now + 100 * hour) });
    assert.ok(await findActiveSession(db, 'idle', 12 * hour, new Date(now + 11 * hour)));
    // That use moved lastSeenAt forward: 11 h later it is still alive; 12 h after that it is not.
    assert.ok(await findActiveSession(db, 'idle', 12 * hour, new Date(now + 22 * hour)));
    assert.equal(await findActiveSession(db, 'idle', 12 * hour, new Date(now + 34 * hour + 1000)), null);
    assert.equal(await db.session.count({ where: { tokenHash: 'idle' } }), 0);
  });

  it('writes the last use at most once a minute', async () => {
    const now = Date.now();
    const id = await createSession(db, { operatorId, tokenHash: 'busy', expiresAt: new Date(now + hour) });
    const first = (await db.session.findUniqueOrThrow({ where: { id } })).lastSeenAt;
    await findActiveSession(db, 'busy', hour, new Date(first.getTime() + 30_000));
    assert.equal((await db.session.findUniqueOrThrow({ where: { id } })).lastSeenAt.getTime(), first.getTime());
    await findActiveSession(db, 'busy', hour, new Date(first.getTime() + 61_000));
    assert.equal((await db.session.findUniqueOrThrow({ where: { id } })).lastSeenAt.getTime(), first.getTime() + 61_000);
  });

  it("ends the operator's other sessions, and purges expired and idle ones", async () => {
    const now = Date.now();
    const keep = await createSession(db, { operatorId, tokenHash: 'keep', expiresAt: new Date(now + hour) });
    await createSession(db, { operatorId, tokenHash: 'other', expiresAt: new Date(now + hour) });
    await endOtherSessions(db, operatorId, keep);
    assert.deepEqual(
      (await db.session.findMany({ where: { operatorId } })).map((s) => s.tokenHash),
      ['keep'],
    );
    await createSession(db, { operatorId, tokenHash: 'expired', expiresAt: new Date(now - 1000) });
    assert.equal(await purgeExpiredSessions(db, 12 * hour), 1);
    assert.equal(await purgeExpiredSessions(db, 12 * hour, new Date(now + 13 * hour)), 1);
    assert.equal(await db.session.count(), 0);
  });
});
