/** The console's configuration, read from the environment once. Nothing else reads process.env. */
import { z } from 'zod';

const schema = z.object({
  DATABASE_URL: z.string().url(),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).default(5),
  INGEST_URL: z.string().url().default('http://127.0.0.1:8080'),
  /** Where browsers reach the ingest API (shown in curl examples); defaults to INGEST_URL. */
  INGEST_PUBLIC_URL: z.string().url().optional(),
  SLUICE_ADMIN_TOKEN: z.string().min(16).optional(),
  SLUICE_SESSION_SECRET: z.string().min(32, 'SLUICE_SESSION_SECRET must be at least 32 characters').optional(),
  SLUICE_ADMIN_EMAIL: z.string().email().optional(),
  SLUICE_ADMIN_PASSWORD: z.string().min(8).optional(),
  PROMETHEUS_URL: z.string().url().optional(),
  SESSION_TTL_HOURS: z.coerce.number().positive().default(24 * 7),
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
