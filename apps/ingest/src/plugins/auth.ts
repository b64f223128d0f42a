/**
 * Who is calling: an API key (Bearer slk_…) checked by hash with a short cache, or the admin token.
 * The cache TTL (KEY_CACHE_TTL_MS, at most 5 s) bounds how long a revoked key keeps working on a replica.
 */
import { timingSafeEqual } from 'node:crypto';
import { findApiKeyByHash, keyAllowsStream, touchApiKey, type ApiKey, type Db } from '@sluice/db';
import { hashApiKey, looksLikeApiKey, SluiceError } from '@sluice/shared';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';

export type Caller = { kind: 'admin' } | { kind: 'key'; key: ApiKey };

const TOUCH_INTERVAL_MS = 60_000;

export class Authenticator {
  private readonly cache = new Map<string, { key: ApiKey | null; expires: number }>();
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly adminToken: string | null,
    private readonly ttlMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  static bearer(request: FastifyRequest): string | null {
    const header = request.headers.authorization;
    if (!header) return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1]! : null;
  }

  isAdmin(token: string | null): boolean {
    if (!this.adminToken || !token) return false;
    const a = Buffer.from(token);
    const b = Buffer.from(this.adminToken);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Admin API guard: 404 when the admin API is disabled, 401 without the right token. */
  requireAdmin(request: FastifyRequest): void {
    if (!this.adminToken) throw new SluiceError('admin.disabled');
    if (!this.isAdmin(Authenticator.bearer(request))) throw new SluiceError('admin.unauthorized');
  }

  /** Resolves an API key: 401 when missing, unknown or revoked. */
  async requireKey(request: FastifyRequest): Promise<ApiKey> {
    const token = Authenticator.bearer(request);
    if (!token) throw new SluiceError('auth.missing_key');
    if (!looksLikeApiKey(token)) throw new SluiceError('auth.invalid_key');
    const hash = hashApiKey(token);
    const now = Date.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.expires <= now) {
      entry = { key: await findApiKeyByHash(this.db, hash), expires: now + this.ttlMs };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, entry);
    }
    if (!entry.key) throw new SluiceError('auth.invalid_key');
    if (entry.key.revokedAt) throw new SluiceError('auth.revoked_key');
    this.touch(entry.key.id, now);
    return entry.key;
  }

  /** The admin token or a key allowed on the stream. */
  async requireStreamReader(request: FastifyRequest, stream: string): Promise<Caller> {
    if (this.isAdmin(Authenticator.bearer(request))) return { kind: 'admin' };
    const key = await this.requireKey(request);
    if (!keyAllowsStream(key, stream)) {
      throw new SluiceError('auth.stream_forbidden', `This API key may not use stream "${stream}".`);
    }
    return { kind: 'key', key };
  }

  /** Records last use at most once a minute per key, without making the request wait. */
  private touch(id: string, now: number) {
    const last = this.touched.get(id) ?? 0;
    if (now - last < TOUCH_INTERVAL_MS) return;
    this.touched.set(id, now);
    touchApiKey(this.db, id, new Date(now)).catch((error) => this.log.warn({ err: error }, 'could not record key use'));
  }
}
