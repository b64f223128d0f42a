/** The console's configuration, read from the environment once. Nothing else reads process.env. */
import { z } from 'zod';

const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no'])
  .transform((value) => value === '1' || value === 'true' || value === 'yes')
  .default(false);

const schema = z
  .object({
    NODE_ENV: z.string().default('development'),
    DATABASE_URL: z.string().url(),
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).default(5),
    INGEST_URL: z.string().url().default('http://127.0.0.1:8080'),
    /** Where browsers reach the ingest API (shown in curl examples); defaults to INGEST_URL. */
    INGEST_PUBLIC_URL: z.string().url().optional(),
    /** Where producers reach Arrow Flight (shown in the Flight examples); defaults to INGEST_PUBLIC_URL's host, port 8815. */
    FLIGHT_PUBLIC_URL: z.string().url().optional(),
    SLUICE_ADMIN_TOKEN: z.string().min(16).optional(),
    SLUICE_SESSION_SECRET: z.string().min(32, 'SLUICE_SESSION_SECRET must be at least 32 characters').optional(),
    SLUICE_ADMIN_EMAIL: z.string().email().optional(),
    SLUICE_ADMIN_PASSWORD: z.string().min(8).optional(),
    /** When set, the setup page asks for it before creating the first operator. */
    SLUICE_SETUP_TOKEN: z.string().min(16, 'SLUICE_SETUP_TOKEN must be at least 16 characters').optional(),
    /** Where operators reach the console; an https URL makes session cookies Secure and `__Host-` named. */
    SLUICE_PUBLIC_URL: z.string().url().optional(),
    /** Believe X-Forwarded-Proto / X-Forwarded-For / X-Forwarded-Host: set only behind a proxy that sets them. */
    SLUICE_TRUST_PROXY: flag,
    PROMETHEUS_URL: z.string().url().optional(),
    /** The ingest service's /metrics, when it is served elsewhere than INGEST_URL (METRICS_PORT). */
    INGEST_METRICS_URL: z.string().url().optional(),
    /** The ingest service's METRICS_TOKEN, when /metrics needs one. */
    METRICS_TOKEN: z.string().min(16).optional(),
    SESSION_TTL_HOURS: z.coerce
      .number()
      .positive()
      .default(24 * 7),
    SESSION_IDLE_HOURS: z.coerce.number().positive().default(12),
  })
  .refine((config) => config.NODE_ENV !== 'production' || config.SLUICE_SESSION_SECRET, {
    path: ['SLUICE_SESSION_SECRET'],
    message: 'is required when NODE_ENV=production (every console replica must sign cookies with the same secret)',
  });

export type WebEnv = z.output<typeof schema>;

let cached: WebEnv | null = null;

export function env(): WebEnv {
  if (!cached) {
    const cleaned = Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== ''));
    const parsed = schema.safeParse(cleaned);
    if (!parsed.success) {
      throw new Error(`Invalid console configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    cached = parsed.data;
  }
  return cached;
}
