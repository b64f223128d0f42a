/**
 * Builds and runs the real ingest app for tests: the run's fresh Postgres database (TEST_DATABASE_URL),
 * a temporary lake folder or the run's S3 server (TEST_S3_*), a real HTTP port on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CreatedApiKeyDto, StreamDefinitionInput, StreamDto } from '@sluice/shared';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app';
import { loadConfig, type Config } from '../config';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the suite with `npm test`.');
  return url;
}

export function testS3Env(): Record<string, string> {
  const endpoint = process.env.TEST_S3_ENDPOINT;
  const bucket = process.env.TEST_S3_BUCKET;
  if (!endpoint || !bucket) throw new Error('TEST_S3_ENDPOINT is not set: run the suite with `npm test`.');
  return {
    S3_ENDPOINT: endpoint,
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
  };
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: testDatabaseUrl(),
    LOG_LEVEL: 'silent',
    SLUICE_ADMIN_TOKEN: ADMIN_TOKEN,
    LAKE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-lake-')),
    PIPELINE_WORKERS: '2',
    // Every suite shares the run's database but has a lake of its own: a Delta log writer would catch up
    // every suite's streams into its own lake, and a compactor compact them there. The lake's suites turn
    // them on, on a database of their own.
    DELTA_LOG: 'off',
    COMPACTION: 'off',
    // Arrow Flight on a port of its own per service (app.flight.port).
    FLIGHT_PORT: '0',
    ...overrides,
  });
}

export async function buildTestApp(overrides: Record<string, string> = {}) {
  return buildApp(testConfig(overrides));
}

export function uniqueName(prefix = 't'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export interface TestService {
  app: FastifyInstance;
  config: Config;
  url: string;
  admin(method: string, route: string, body?: unknown): Promise<Response>;
  createStream(definition: Omit<StreamDefinitionInput, 'name'> & { name?: string }): Promise<StreamDto>;
  createKey(streams: string[] | '*'): Promise<CreatedApiKeyDto>;
  post(stream: string, key: string, body: RequestInit['body'], headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestService(options: { s3?: boolean; env?: Record<string, string> } = {}): Promise<TestService> {
  const config = testConfig({ ...(options.s3 ? testS3Env() : {}), ...options.env });
  const app = await buildApp(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const admin = (method: string, route: string, body?: unknown) =>
    fetch(`${url}${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  return {
    app,
    config,
    url,
    admin,
    async createStream(definition) {
      const response = await admin('POST', '/v1/admin/streams', { name: uniqueName(), ...definition });
      if (response.status !== 201) throw new Error(`create stream: ${response.status} ${await response.text()}`);
      return (await response.json()) as StreamDto;
    },
    async createKey(streams) {
      const response = await admin('POST', '/v1/admin/keys', { name: 'test key', streams });
      if (response.status !== 201) throw new Error(`create key: ${response.status} ${await response.text()}`);
      return (await response.json()) as CreatedApiKeyDto;
    },
    post(stream, key, body, headers = {}) {
      return fetch(`${url}/v1/streams/${stream}/rows`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv', ...headers },
        body,
        duplex: 'half',
      } as RequestInit);
    },
    close: () => app.close(),
  };
}
