/** Owns the object store the lake lives in: a local folder by default, S3 when S3_BUCKET is set. */
import fp from 'fastify-plugin';
import type { Config } from '../config';
import { LocalStore } from '../sinks/local-store';
import type { ObjectStore } from '../sinks/object-store';

declare module 'fastify' {
  interface FastifyInstance {
    store: ObjectStore;
  }
}

export async function createStore(config: Config['store']): Promise<ObjectStore> {
  if (config.kind === 'local') return new LocalStore(config.dir);
  // Loaded only when used: the AWS SDK costs ~20 MB of memory that a local lake does not need.
  const { S3Store } = await import('../sinks/s3-store');
  return new S3Store(config);
}

export const storePlugin = fp<{ store: Config['store'] }>(
  async (app, options) => {
    const store = await createStore(options.store);
    app.decorate('store', store);
    app.addHook('onClose', async () => store.close?.());
    app.log.info({ store: store.location }, 'object store');
  },
  { name: 'store' },
);
