/**
 * Builds the ingest service as a Fastify instance without listening, so tests drive the real app.
 * The route map: infra plugins first, then routes.
 */
import { newId } from '@sluice/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from './config';
import { dbPlugin } from './plugins/db.plugin';
import { errorsPlugin } from './plugins/errors.plugin';
import { healthRoutes } from './routes/health.route';

export async function buildApp(config: Config): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Keys and tokens travel in this header: never log it.
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
    genReqId: () => newId('req'),
    requestIdHeader: false,
    trustProxy: config.trustProxy,
    // Sockets idle between keep-alive requests close; long uploads are not cut (no overall timeout).
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
    connectionTimeout: 0,
  });

  // Infra
  await app.register(errorsPlugin);
  await app.register(dbPlugin, { databaseUrl: config.databaseUrl, maxConnections: config.databasePoolMax });

  // Routes
  await app.register(healthRoutes);

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  return app;
}
