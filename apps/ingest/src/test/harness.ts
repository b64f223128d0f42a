/** Builds the real app against the test run's database (created fresh by `npm test`). */
import { buildApp } from '../app';
import { loadConfig, type Config } from '../config';

export function testDatabaseUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the suite with `npm test`.');
  return url;
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ DATABASE_URL: testDatabaseUrl(), LOG_LEVEL: 'silent', ...overrides });
}

export async function buildTestApp(overrides: Record<string, string> = {}) {
  return buildApp(testConfig(overrides));
}
