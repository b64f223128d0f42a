/**
 * A real S3-protocol server for tests: s3rver as a separate process, so a test can stop it (an outage)
 * and start it again on the same port with the same data. Its quirks: it needs the legacy OpenSSL
 * provider (or listing with continuation tokens fails), and path-style addressing.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { freePort, portInUse, spawnService, type Service } from './process';

export interface S3Server {
  endpoint: string;
  port: number;
  bucket: string;
  dir: string;
  /** Env for the ingest service's S3 sink. */
  env: Record<string, string>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startS3rver(options: { dir: string; bucket: string; port?: number }): Promise<S3Server> {
  const port = options.port ?? (await freePort());
  const bin = path.join(path.dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
  let service: Service | null = null;
  const server: S3Server = {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket: options.bucket,
    dir: options.dir,
    env: {
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_BUCKET: options.bucket,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    },
    async start() {
      if (await portInUse(port)) throw new Error(`port ${port} is already in use; s3rver cannot start there`);
      service = spawnService(
        's3rver',
        process.execPath,
        [
          bin,
          '-d',
          options.dir,
          '-a',
          '127.0.0.1',
          '-p',
          String(port),
          '--no-vhost-buckets',
          '--silent',
          '--configure-bucket',
          options.bucket,
        ],
        { env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' }, stdio: 'ignore' },
      );
      const deadline = Date.now() + 15_000;
      while (!(await portInUse(port))) {
        if (service.exited) throw new Error('s3rver exited before it was ready');
        if (Date.now() > deadline) throw new Error('s3rver was not ready in 15 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      await service?.stop();
      service = null;
    },
  };
  await server.start();
  return server;
}
