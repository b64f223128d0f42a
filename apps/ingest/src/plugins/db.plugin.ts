/** Owns the Prisma client for the app's lifetime: created on register, disconnected on close. */
import { createDb, type Db } from '@sluice/db';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
  }
}

export const dbPlugin = fp<{ databaseUrl: string; maxConnections: number }>(
  async (app, options) => {
    const db = createDb(options.databaseUrl, { maxConnections: options.maxConnections });
    app.decorate('db', db);
    app.addHook('onClose', async () => {
      await db.$disconnect();
    });
  },
  { name: 'db' },
);
