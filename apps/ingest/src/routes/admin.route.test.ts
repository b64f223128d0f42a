/** The admin API: streams, schema versions and keys, as a script would use it. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ApiKeyDto, CreatedApiKeyDto, StreamDto } from '@sluice/shared';
import { hashApiKey } from '@sluice/shared';
import { startTestService, uniqueName, type TestService } from '../test/harness';

let service: TestService;
before(async () => {
  service = await startTestService();
});
after(() => service.close());

describe('streams', () => {
  it('creates a stream with defaults, gets it with its versions, lists it', async () => {
    const name = uniqueName('orders');
    const created = await service.admin('POST', '/v1/admin/streams', {
      name,
      description: 'Orders from the shop',
      schema: {
        columns: [
          { name: 'id', type: 'int64', nullable: false },
          { name: 'total', type: 'float64' },
        ],
      },
      batch: { maxRows: 5000 },
      delimiter: ';',
    });
    assert.equal(created.status, 201);
    const stream = (await created.json()) as StreamDto;
    assert.equal(stream.name, name);
    assert.equal(stream.schemaVersion, 1);
    assert.deepEqual(stream.batch, { maxRows: 5000, maxBytes: 16 * 1024 * 1024, maxAgeMs: 100 });
    assert.equal(stream.rejectMode, 'skip');
    assert.equal(stream.delimiter, ';');
    assert.equal(stream.schema.columns[1]?.nullable, true);

    const got = (await (await service.admin('GET', `/v1/admin/streams/${name}`)).json()) as StreamDto & { versions: unknown[] };
    assert.equal(got.versions.length, 1);
    const list = (await (await service.admin('GET', '/v1/admin/streams')).json()) as { streams: StreamDto[] };
    assert.ok(list.streams.some((s) => s.name === name));
  });

  it('refuses a duplicate name with 409 and an unknown one with 404', async () => {
    const name = uniqueName();
    const definition = { name, schema: { columns: [{ name: 'a', type: 'string' }] } };
    assert.equal((await service.admin('POST', '/v1/admin/streams', definition)).status, 201);
    const again = await service.admin('POST', '/v1/admin/streams', definition);
    assert.equal(again.status, 409);
    assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'stream.already_exists');
    const missing = await service.admin('GET', `/v1/admin/streams/${uniqueName()}`);
    assert.equal(missing.status, 404);
  });

  it('adds a schema version with new nullable columns, and refuses anything else with 409', async () => {
    const stream = await service.createStream({ schema: { columns: [{ name: 'id', type: 'int64', nullable: false }] } });
    const added = await service.admin('POST', `/v1/admin/streams/${stream.name}/schema`, {
      columns: [
        { name: 'id', type: 'int64', nullable: false },
        { name: 'note', type: 'string', nullable: true },
      ],
    });
    assert.equal(added.status, 201);
    assert.equal(((await added.json()) as StreamDto).schemaVersion, 2);

    for (const columns of [
      [
        { name: 'id', type: 'string', nullable: false },
        { name: 'note', type: 'string' },
      ],
      [{ name: 'id', type: 'int64', nullable: false }],
      [
        { name: 'id', type: 'int64', nullable: false },
        { name: 'note', type: 'string' },
        { name: 'req', type: 'int32', nullable: false },
      ],
    ]) {
      const refused = await service.admin('POST', `/v1/admin/streams/${stream.name}/schema`, { columns });
      assert.equal(refused.status, 409, JSON.stringify(columns));
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'schema.incompatible');
    }

    // Rows of the new version carry the new column; the stream serves it straight away.
    const key = (await service.createKey([stream.name])).key;
    const response = await service.post(stream.name, key, 'id,note\n1,hello\n');
    assert.equal(response.status, 200);
  });
});

describe('keys', () => {
  it('creates a key shown once, stores only its hash, lists it by its start, and revokes it', async () => {
    const stream = await service.createStream({ schema: { columns: [{ name: 'a', type: 'string' }] } });
    const response = await service.admin('POST', '/v1/admin/keys', { name: 'ci', streams: [stream.name] });
    assert.equal(response.status, 201);
    const created = (await response.json()) as CreatedApiKeyDto;
    assert.match(created.key, /^slk_/);
    assert.equal(created.start, created.key.slice(0, 8));
    assert.deepEqual(created.streams, [stream.name]);

    const stored = await service.app.db.apiKey.findUniqueOrThrow({ where: { id: created.id } });
    assert.equal(stored.hash, hashApiKey(created.key));
    assert.ok(!JSON.stringify(stored).includes(created.key), 'the plaintext is not stored');

    const list = (await (await service.admin('GET', '/v1/admin/keys')).json()) as { keys: ApiKeyDto[] };
    const listed = list.keys.find((k) => k.id === created.id);
    assert.ok(listed);
    assert.equal((listed as unknown as { key?: string }).key, undefined, 'the list never shows the key');
    assert.equal(listed.status, 'active');

    const revoked = (await (await service.admin('DELETE', `/v1/admin/keys/${created.id}`)).json()) as ApiKeyDto;
    assert.equal(revoked.status, 'revoked');
    assert.equal((await service.admin('DELETE', '/v1/admin/keys/key_nope')).status, 404);
  });

  it('gives a key the ingest scope by default, stores the scopes asked for, and refuses unknown or no scopes', async () => {
    const stream = await service.createStream({ schema: { columns: [{ name: 'a', type: 'string' }] } });
    const create = (body: Record<string, unknown>) =>
      service.admin('POST', '/v1/admin/keys', { name: 'scoped', streams: [stream.name], ...body });
    const producer = (await (await create({})).json()) as CreatedApiKeyDto;
    assert.deepEqual(producer.scopes, ['ingest']);
    const reader = (await (await create({ scopes: ['read'] })).json()) as CreatedApiKeyDto;
    assert.deepEqual(reader.scopes, ['read']);
    const both = (await (await create({ scopes: ['read', 'ingest', 'read'] })).json()) as CreatedApiKeyDto;
    assert.deepEqual(both.scopes, ['ingest', 'read']);
    const stored = await service.app.db.apiKey.findUniqueOrThrow({ where: { id: reader.id } });
    assert.deepEqual(stored.scopes, ['read']);

    for (const scopes of [[], ['write'], ['admin', 'read'], 'read']) {
      const response = await create({ scopes });
      assert.equal(response.status, 400, JSON.stringify(scopes));
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'request.invalid');
    }
  });

  it('refuses keys for streams that do not exist', async () => {
    const response = await service.admin('POST', '/v1/admin/keys', { name: 'x', streams: [uniqueName()] });
    assert.equal(response.status, 404);
  });
});

describe('OpenAPI', () => {
  it('serves the spec generated from the route schemas, and Swagger UI', async () => {
    const spec = (await (await fetch(`${service.url}/docs/json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(spec.openapi, /^3\./);
    for (const path of ['/v1/streams/{stream}/rows', '/v1/admin/streams', '/v1/admin/keys', '/v1/streams/{stream}/files/preview']) {
      assert.ok(spec.paths[path], path);
    }
    const ingest = spec.paths['/v1/streams/{stream}/rows'] as { post: { parameters: { in: string; name: string }[]; description: string } };
    assert.ok(
      ingest.post.parameters.some((parameter) => parameter.in === 'header' && parameter.name === 'idempotency-key'),
      'Idempotency-Key is documented',
    );
    assert.match(ingest.post.description, /Idempotency-Replayed/);
    const ui = await fetch(`${service.url}/docs/`);
    assert.equal(ui.status, 200);
    assert.match(await ui.text(), /swagger/i);
  });
});

describe('admin API disabled', () => {
  it('answers 404 admin.disabled when SLUICE_ADMIN_TOKEN is unset', async () => {
    const { buildApp } = await import('../app');
    const { testConfig } = await import('../test/harness');
    const app = await buildApp({ ...testConfig(), adminToken: null });
    try {
      const response = await app.inject({ method: 'GET', url: '/v1/admin/streams', headers: { authorization: 'Bearer anything-at-all' } });
      assert.equal(response.statusCode, 404);
      assert.equal(response.json().error.code, 'admin.disabled');
    } finally {
      await app.close();
    }
  });
});
