/**
 * Builds the ingest service as a Fastify instance without listening, so tests drive the real app.
 * The route map, in one screen: infra plugins first, then routes.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { newId } from '@sluice/shared';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from './config';
import { startFlightServer, type FlightServer } from './flight/flight-server';
import { authPlugin } from './plugins/auth.plugin';
import { clickhousePlugin } from './plugins/clickhouse.plugin';
import { dbPlugin } from './plugins/db.plugin';
import { errorsPlugin } from './plugins/errors.plugin';
import { metricsPlugin } from './plugins/metrics.plugin';
import { pipelinePlugin } from './plugins/pipeline.plugin';
import { StreamCache } from './plugins/stream-cache';
import { storePlugin } from './plugins/store.plugin';
import { adminRoutes } from './routes/admin.route';
import { filesRoutes } from './routes/files.route';
import { healthRoutes } from './routes/health.route';
import { ingestRoutes } from './routes/ingest.route';
import { drainRefusedBody } from './routes/request-body';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    /** The Arrow Flight endpoint once the service listens (null: FLIGHT=off, or not listening yet). */
    flight: FlightServer | null;
  }
}

export async function buildApp(config: Config): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Keys and tokens travel in these headers: never log them.
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
    // Per-request logs only at debug and below: at ingest rates they would drown everything else.
    logController: new LogController({
      disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace',
    }),
    genReqId: () => newId('req'),
    requestIdHeader: false,
    trustProxy: config.trustProxy,
    // Idle keep-alive sockets close, and so do connections that send no request headers within the idle
    // timeout. Long uploads are never cut by a whole-request timeout; a body that goes quiet is (see
    // request-body.ts: not a socket timeout, which would also fire while the service itself holds the
    // socket paused for backpressure).
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
    connectionTimeout: 0,
    http: {
      headersTimeout: config.connections.idleTimeoutMs,
      // How often Node looks for connections past the headers timeout (its default is every 30 s).
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(config.connections.idleTimeoutMs / 4))),
    },
    bodyLimit: 1024 * 1024,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorate('config', config);

  // Infra
  await app.register(errorsPlugin);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Sluice ingest API', version: '1.0.0' },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key (slk_…)' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'SLUICE_ADMIN_TOKEN' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(dbPlugin, { databaseUrl: config.databaseUrl, maxConnections: config.databasePoolMax });
  await app.register(storePlugin, { store: config.store });
  await app.register(metricsPlugin);
  await app.register(authPlugin, { adminToken: config.adminToken, keyCacheTtlMs: config.keyCacheTtlMs });
  await app.register(clickhousePlugin, { config: config.clickhouse });
  await app.register(pipelinePlugin, { config });

  // Routes
  const streams = new StreamCache(app.db, config.streamCacheTtlMs);
  await app.register(healthRoutes);
  await app.register(ingestRoutes(streams));
  await app.register(filesRoutes);
  await app.register(adminRoutes(streams));

  // Arrow Flight listens beside HTTP (bound when the app is ready: a port taken fails the start), and
  // stops taking calls with it (its calls in flight finish first, within the shutdown timeout; the
  // pipeline's own preClose hook, registered before, flushes their rows).
  app.decorate('flight', null);
  if (config.flight) {
    const { host, port } = config.flight;
    app.addHook('onReady', async () => {
      app.flight = await startFlightServer(app, streams, { host, port, maxMessageBytes: config.maxArrowMessageBytes });
    });
    app.addHook('preClose', async () => {
      await app.flight?.close(Math.max(0, config.shutdownTimeoutMs - 1000));
    });
  }

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // A refusal part-way through a body answers once the rest has been read (within limits), except a
    // time-out: that body is not coming.
    if (reply.statusCode >= 400 && reply.statusCode !== 408) await drainRefusedBody(request.raw);
    // While shutting down, every answer closes its connection, so keep-alive sockets do not hold the
    // server open once the requests in flight are done. An answer sent before its request's body was read
    // whole closes it too: the server drops that socket once the answer is out, and a client must not
    // send its next request on it.
    if (app.draining || !request.raw.complete) reply.header('connection', 'close');
  });

  // Past INGEST_MAX_CONNECTIONS open sockets, new ones are closed at once. A connection that sends no
  // request within the idle timeout is closed (Node's headers timeout starts only with a request's first
  // byte); once a request starts, its body's own idle limit applies instead (request-body.ts).
  app.server.maxConnections = config.connections.maxConnections;
  app.server.on('connection', (socket: Socket) => socket.setTimeout(config.connections.idleTimeoutMs, () => socket.destroy()));
  app.server.on('request', (request: IncomingMessage) => request.socket.setTimeout(0));

  return app;
}
