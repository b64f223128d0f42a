/** The optional ClickHouse destination (CLICKHOUSE_URL): the sink and the forwarder that feeds it. */
import fp from 'fastify-plugin';
import type { Config } from '../config';
import type { ClickHouseForwarder } from '../pipeline/clickhouse-forwarder';
import type { ClickHouseSink } from '../sinks/clickhouse-sink';

declare module 'fastify' {
  interface FastifyInstance {
    clickhouse: { sink: ClickHouseSink; forwarder: ClickHouseForwarder } | null;
  }
}

export const clickhousePlugin = fp<{ config: Config['clickhouse'] }>(
  async (app, { config }) => {
    if (!config) {
      app.decorate('clickhouse', null);
      return;
    }
    // Loaded only when configured: the ClickHouse client is memory a service without it does not need.
    const { ClickHouseSink } = await import('../sinks/clickhouse-sink');
    const { ClickHouseForwarder } = await import('../pipeline/clickhouse-forwarder');
    const sink = new ClickHouseSink(config);
    const forwarder = new ClickHouseForwarder({
      db: app.db,
      store: app.store,
      sink,
      metrics: app.metrics,
      log: app.log,
      pollMs: config.pollMs,
      // A claim outlasts the requests of one file's insert (table check, count, insert).
      leaseMs: Math.max(30_000, 3 * config.requestTimeoutMs),
      maxAttempts: config.maxAttempts,
      retryBaseMs: config.retryBaseMs,
      retryMaxMs: config.retryMaxMs,
    });
    app.decorate('clickhouse', { sink, forwarder });
    app.addHook('onReady', async () => forwarder.start());
    app.addHook('onClose', async () => {
      await forwarder.stop();
      await sink.close();
    });
  },
  { name: 'clickhouse', dependencies: ['db', 'store', 'metrics'] },
);
