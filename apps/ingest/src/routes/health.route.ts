/** Liveness (/healthz: the process answers) and readiness (/readyz: Postgres and the object store answer). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/healthz', { schema: { hide: true }, logLevel: 'warn' }, async () => ({ status: 'ok', replica: app.config.replicaId }));

  app.get('/readyz', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
    const [database, store] = await Promise.all([
      app.db.$queryRawUnsafe('SELECT 1').then(
        () => 'ok',
        () => 'unreachable',
      ),
      app.store.check().then(
        () => 'ok',
        () => 'unreachable',
      ),
    ]);
    const ready = database === 'ok' && store === 'ok' && !app.draining;
    return reply
      .status(ready ? 200 : 503)
      .send({ status: ready ? 'ok' : 'unavailable', replica: app.config.replicaId, checks: { database, store }, draining: app.draining });
  });
};
