/** One Prisma client per server process (Next may load this module more than once in development). */
import { createDb, type Db } from '@sluice/db';
import { env } from '../env';

const holder = globalThis as unknown as { sluiceDb?: Db };

export function db(): Db {
  holder.sluiceDb ??= createDb(env().DATABASE_URL, { maxConnections: env().DATABASE_POOL_MAX });
  return holder.sluiceDb;
}
