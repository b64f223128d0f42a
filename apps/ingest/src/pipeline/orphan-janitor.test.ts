/**
 * No orphan files, over a real service and store: when the manifest fails after an object was put, the
 * request is refused, no reader sees the file, and the janitor deletes the object. The manifest failing
 * on cue is the one fault no real Postgres shows: the commit statement is made to fail (a fake, named so).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestService, type TestService } from '../test/harness';
import { listStreamObjects } from '../test/read-back';

let service: TestService;
before(async () => {
  service = await startTestService({
    env: { SINK_RETRY_ATTEMPTS: '2', SINK_RETRY_BASE_MS: '10', SINK_RETRY_MAX_MS: '20', ORPHAN_GRACE_MINUTES: '0.02' },
  });
});
after(() => service.close());

describe('OrphanJanitor', () => {
  it('an object whose manifest row never commits is never listed, and is deleted by the janitor', async () => {
    const stream = await service.createStream({ schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] } });
    const { key } = await service.createKey([stream.name]);
    const db = service.app.db;
    // The fake: the statement that commits a file's row fails, as if Postgres went away right after the put.
    const executeRaw = db.$executeRaw.bind(db);
    db.$executeRaw = ((query: TemplateStringsArray, ...values: unknown[]) =>
      query.join('?').includes(`SET "state" = 'committed'`)
        ? Promise.reject(new Error('fake fault: the manifest is unavailable'))
        : executeRaw(query, ...values)) as typeof db.$executeRaw;
    let response: Response;
    try {
      response = await service.post(stream.name, key, `id\n${Array.from({ length: 5000 }, (_, i) => i).join('\n')}\n`);
    } finally {
      db.$executeRaw = executeRaw;
    }
    assert.equal(response.status, 503, 'not acknowledged: the rows are not stored');
    const objects = await listStreamObjects(service.app.store, stream.name);
    assert.equal(objects.length, 1, 'the object was put');
    const listed = (await (await service.admin('GET', `/v1/streams/${stream.name}/files`)).json()) as { files: unknown[] };
    assert.deepEqual(listed.files, [], 'no reader sees it');

    // Past the grace (1.2 s here), the janitor's next sweep, or this one, deletes it.
    for (let waited = 0; (await listStreamObjects(service.app.store, stream.name)).length > 0; waited += 200) {
      assert.ok(waited < 15_000, 'the orphan is gone from the store');
      await new Promise((resolve) => setTimeout(resolve, 200));
      await service.app.janitor.sweep();
    }
    const rows = await db.dataFile.findMany({ where: { streamId: stream.id } });
    assert.deepEqual(
      rows.map((row) => row.state),
      ['abandoned'],
    );
    assert.match(await service.app.metrics.registry.metrics(), /^sluice_orphans_removed_total 1$/m);

    // The service goes on storing rows, and the janitor leaves committed files alone.
    assert.equal((await service.post(stream.name, key, 'id\n1\n')).status, 200);
    assert.equal(await service.app.janitor.sweep(), 0);
    assert.equal((await listStreamObjects(service.app.store, stream.name)).length, 1);
  });
});
