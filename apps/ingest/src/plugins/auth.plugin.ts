/** Decorates the app with the Authenticator; route plugins call it in their own hooks. */
import fp from 'fastify-plugin';
import { Authenticator } from './auth';

declare module 'fastify' {
  interface FastifyInstance {
    auth: Authenticator;
  }
}

export const authPlugin = fp<{ adminToken: string | null; keyCacheTtlMs: number }>(
  async (app, options) => {
    const { limit, windowMs } = app.config.keyFailures;
    app.decorate(
      'auth',
      new Authenticator(app.db, options.adminToken, options.keyCacheTtlMs, app.log, { failureLimit: limit, failureWindowMs: windowMs }),
    );
  },
  { name: 'auth', dependencies: ['db'] },
);
