/**
 * Prometheus metrics: the registry, request durations for every route, and GET /metrics. /metrics names
 * streams, so it can be served on its own port (METRICS_PORT, e.g. one only the scraper reaches) and
 * behind a bearer token (METRICS_TOKEN).
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SluiceError, toErrorBody } from '@sluice/shared';
import fp from 'fastify-plugin';
import { createMetrics, type Metrics } from '../metrics';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
    /** The port /metrics is served on when METRICS_PORT gives it a server of its own; else null. */
    metricsPort: () => number | null;
  }
}

export const metricsPlugin = fp(
  async (app) => {
    const metrics = createMetrics();
    metrics.replicaInfo.set({ replica: app.config.replicaId }, 1);
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (request, reply) => {
      metrics.requestDuration.observe(
        { route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
    // A request its client cut off gets no response, so no onResponse: counted here, as 499.
    const started = new WeakMap<object, number>();
    app.addHook('onRequest', async (request) => {
      started.set(request, performance.now());
    });
    app.addHook('onRequestAbort', async (request) => {
      const elapsed = (performance.now() - (started.get(request) ?? performance.now())) / 1000;
      metrics.requestDuration.observe({ route: request.routeOptions.url ?? 'unmatched', status: '499' }, elapsed);
    });

    const { port, token } = app.config.metrics;
    const authorized = (header: string | undefined) => {
      if (!token) return true;
      const given = Buffer.from(header ?? '');
      const expected = Buffer.from(`Bearer ${token}`);
      return given.length === expected.length && timingSafeEqual(given, expected);
    };
    const unauthorized = JSON.stringify(toErrorBody(new SluiceError('metrics.unauthorized'), ''));
    const notFound = JSON.stringify(toErrorBody(new SluiceError('route.not_found'), ''));

    // The Prometheus text, or prom-client's JSON of the same for a client that asks for it (the console).
    const render = async (accept: string | undefined): Promise<{ type: string; body: string }> =>
      accept?.includes('application/json')
        ? { type: 'application/json', body: JSON.stringify(await metrics.registry.getMetricsAsJSON()) }
        : { type: metrics.registry.contentType, body: await metrics.registry.metrics() };

    if (port === null) {
      app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (request, reply) => {
        if (!authorized(request.headers.authorization)) {
          return reply.status(401).header('content-type', 'application/json').send(unauthorized);
        }
        const { type, body } = await render(request.headers.accept);
        return reply.header('content-type', type).send(body);
      });
      app.decorate('metricsPort', () => null);
      return;
    }

    // A server of its own: nothing but GET /metrics.
    const server = http.createServer((request, response) => {
      if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
        response.writeHead(404, { 'content-type': 'application/json' }).end(notFound);
        return;
      }
      if (!authorized(request.headers.authorization)) {
        response.writeHead(401, { 'content-type': 'application/json' }).end(unauthorized);
        return;
      }
      render(request.headers.accept).then(
        ({ type, body }) => response.writeHead(200, { 'content-type': type }).end(body),
        (error) => {
          app.log.error({ err: error }, 'metrics could not be collected');
          response.writeHead(500).end();
        },
      );
    });
    app.decorate('metricsPort', () => (server.address() as AddressInfo | null)?.port ?? null);
    app.addHook('onReady', async () => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, app.config.host, () => resolve());
      });
    });
    app.addHook('onClose', async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
  },
  { name: 'metrics' },
);
