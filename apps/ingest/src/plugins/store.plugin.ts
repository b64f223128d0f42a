/** Owns the object store the lake lives in: a local folder by default, S3 when S3_BUCKET is set. */
import fp from 'fastify-plugin';
import type { Config } from '../config';
import { LocalStore } from '../sinks/local-store';
import type { ObjectStore } from '../sinks/object-store';
import { S3Store } from '../sinks/s3-store';

declare module 'fastify' {
  interface FastifyInstance {
    store: ObjectStore;
  }
}

export function createStore(config: Config['store']): ObjectStore {
  if (config.kind === 'local') return new LocalStore(config.dir);
  return new S3Store(config);
}

export const storePlugin = fp<{ store: Config['store'] }>(
  async (app, options) => {
    const store = createStore(options.store);
    app.decorate('store', store);
    app.addHook('onClose', async () => {
      if (store instanceof S3Store) store.close();
    });
    app.log.info({ store: store.location }, 'object store');
  },
  { name: 'store' },
);
