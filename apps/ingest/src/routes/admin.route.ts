/**
 * The admin API (bearer SLUICE_ADMIN_TOKEN): streams, schema versions and API keys, for scripts and
 * automation. The operations are the shared control-plane ones the console uses too.
 */
import {
  addSchemaVersion,
  clickHouseDelivery,
  createApiKey,
  createStream,
  getStream,
  listApiKeys,
  listSchemaVersions,
  listStreams,
  retryFailedClickHouseFiles,
  revokeApiKey,
} from '@sluice/db';
import { apiKeyCreateSchema, SluiceError, streamDefinitionSchema, streamSchemaSchema } from '@sluice/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { StreamCache } from '../plugins/stream-cache';

const streamParams = z.object({ name: z.string() });
const security = [{ adminToken: [] }];

export function adminRoutes(streams: StreamCache): FastifyPluginAsyncZod {
  return async (app) => {
    app.addHook('onRequest', async (request) => app.auth.requireAdmin(request));

    app.post(
      '/v1/admin/streams',
      { schema: { summary: 'Create a stream', tags: ['admin'], body: streamDefinitionSchema, security } },
      async (request, reply) => {
        if (request.body.sinks?.clickhouse && !app.clickhouse) {
          throw new SluiceError('request.invalid', 'This stream sends to ClickHouse, but ClickHouse is not configured (CLICKHOUSE_URL).');
        }
        const stream = await createStream(app.db, request.body);
        const target = stream.sinks.clickhouse;
        if (target && app.clickhouse) {
          // Create the table now so analysts can see it; if ClickHouse is down, the first insert creates it.
          await app.clickhouse.sink
            .ensureTable(target.table, stream.schema, stream.schemaVersion, target.orderBy)
            .catch((error) => request.log.warn({ err: error }, 'ClickHouse table not created yet'));
        }
        return reply.status(201).send(stream);
      },
    );

    app.get('/v1/admin/streams', { schema: { summary: 'List streams', tags: ['admin'], security } }, async () => ({
      streams: await listStreams(app.db),
    }));

    app.get(
      '/v1/admin/streams/:name',
      { schema: { summary: 'Get a stream with its schema versions', tags: ['admin'], params: streamParams, security } },
      async (request) => {
        const { name } = request.params;
        const stream = await getStream(app.db, name);
        return { ...stream, versions: await listSchemaVersions(app.db, name) };
      },
    );

    app.post(
      '/v1/admin/streams/:name/schema',
      {
        schema: {
          summary: 'Add a schema version (new nullable columns only)',
          tags: ['admin'],
          params: streamParams,
          body: streamSchemaSchema,
          security,
        },
      },
      async (request, reply) => {
        const { name } = request.params;
        const { stream } = await addSchemaVersion(app.db, name, request.body);
        streams.forget(name);
        return reply.status(201).send(stream);
      },
    );

    app.get(
      '/v1/admin/streams/:name/clickhouse',
      {
        schema: {
          summary: "Where a stream's files stand with ClickHouse (pending, failed and why)",
          tags: ['admin'],
          params: streamParams,
          security,
        },
      },
      async (request) => clickHouseDelivery(app.db, request.params.name),
    );

    app.post(
      '/v1/admin/streams/:name/clickhouse/retry',
      { schema: { summary: "Send a stream's failed files to ClickHouse again", tags: ['admin'], params: streamParams, security } },
      async (request) => {
        const retried = await retryFailedClickHouseFiles(app.db, request.params.name);
        app.clickhouse?.forwarder.wake();
        return { retried };
      },
    );

    app.post(
      '/v1/admin/streams/:name/compact',
      {
        schema: {
          summary: "Compact a stream's small files now: every partition with two or more, whatever their age",
          tags: ['admin'],
          params: streamParams,
          security,
        },
      },
      async (request) => {
        const stream = await getStream(app.db, request.params.name);
        const compactions = await app.compactor.compactNow(stream.name);
        return {
          compactions,
          filesIn: compactions.reduce((sum, each) => sum + each.filesIn, 0),
          filesOut: compactions.length,
        };
      },
    );

    app.post(
      '/v1/admin/keys',
      {
        schema: {
          summary: 'Create an API key (the plaintext key is in this answer only)',
          tags: ['admin'],
          body: apiKeyCreateSchema,
          security,
        },
      },
      async (request, reply) => reply.status(201).send(await createApiKey(app.db, request.body)),
    );

    app.get('/v1/admin/keys', { schema: { summary: 'List API keys', tags: ['admin'], security } }, async () => ({
      keys: await listApiKeys(app.db),
    }));

    app.delete(
      '/v1/admin/keys/:id',
      { schema: { summary: 'Revoke an API key', tags: ['admin'], params: z.object({ id: z.string() }), security } },
      async (request) => revokeApiKey(app.db, request.params.id),
    );
  };
}
