/**
 * The ingest service's configuration: parsed from the environment once, here, into a typed object.
 * Nothing else reads process.env.
 */
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const envSchema = z.object({
  INGEST_HOST: z.string().default('127.0.0.1'),
  INGEST_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  DATABASE_URL: z.string().url('DATABASE_URL must be a postgresql:// URL'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(5),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  INGEST_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  INGEST_TRUST_PROXY: bool.default(false),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  host: string;
  port: number;
  databaseUrl: string;
  databasePoolMax: number;
  logLevel: z.output<typeof envSchema>['LOG_LEVEL'];
  shutdownTimeoutMs: number;
  trustProxy: boolean;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`).join('\n');
    throw new Error(`Invalid ingest configuration:\n${problems}`);
  }
  const e = parsed.data;
  return {
    host: e.INGEST_HOST,
    port: e.INGEST_PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.INGEST_SHUTDOWN_TIMEOUT_MS,
    trustProxy: e.INGEST_TRUST_PROXY,
  };
}
