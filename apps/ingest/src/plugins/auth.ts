/**
 * Who is calling: an API key (Bearer slk_…) checked by hash with a short cache, or the admin token; and
 * what a key may do (its streams and its scopes, `ingest` or `read`).
 * The cache TTL (KEY_CACHE_TTL_MS, at most 5 s) bounds how long a revoked key keeps working on a replica,
 * and how stale stillValid's answer can be.
 */
import { timingSafeEqual } from 'node:crypto';
import { findApiKeyByHash, findApiKeyById, keyAllowsStream, keyHasScope, touchApiKey, type ApiKey, type Db } from '@sluice/db';
import { hashApiKey, looksLikeApiKey, SluiceError, type ApiKeyScope } from '@sluice/shared';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { LruCache } from './auth-cache';
import { FailureLimiter } from './auth-failures';

export type Caller = { kind: 'admin' } | { kind: 'key'; key: ApiKey };

/** What a key check reads of a request: its bearer token and its address (HTTP, or an Arrow Flight call). */
export interface CallerRequest {
  headers: { authorization?: string };
  ip: string;
}

const TOUCH_INTERVAL_MS = 60_000;
/** Known keys (found in the database, revoked or not) kept for their TTL. */
export const KNOWN_KEYS_CACHED = 10_000;
/**
 * Hashes that matched no key, kept apart from the known ones: a flood of random keys only churns this
 * small cache and never pushes a producer's key out of the other.
 */
export const UNKNOWN_KEYS_CACHED = 1_000;

export interface AuthenticatorOptions {
  /** Unknown-key failures an address may have per window before it gets 429 auth.too_many_failures. */
  failureLimit: number;
  failureWindowMs: number;
}

export class Authenticator {
  private readonly byHash = new LruCache<string, ApiKey>(KNOWN_KEYS_CACHED);
  private readonly byId = new LruCache<string, ApiKey>(KNOWN_KEYS_CACHED);
  private readonly unknown = new LruCache<string, true>(UNKNOWN_KEYS_CACHED);
  private readonly failures: FailureLimiter;
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly adminToken: string | null,
    private readonly ttlMs: number,
    private readonly log: FastifyBaseLogger,
    options: AuthenticatorOptions = { failureLimit: 20, failureWindowMs: 10_000 },
  ) {
    this.failures = new FailureLimiter(options.failureLimit, options.failureWindowMs);
  }

  static bearer(request: Pick<CallerRequest, 'headers'>): string | null {
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

  /**
   * Resolves an API key: 401 when missing, unknown or revoked; 429 when the caller's address has had too
   * many unknown keys lately (a key already cached as known is still served).
   */
  async requireKey(request: CallerRequest): Promise<ApiKey> {
    const token = Authenticator.bearer(request);
    if (!token) throw new SluiceError('auth.missing_key');
    const now = Date.now();
    const hash = looksLikeApiKey(token) ? hashApiKey(token) : null;
    let key: ApiKey | null | undefined = hash === null ? undefined : this.byHash.get(hash, now);
    if (key === undefined) {
      this.refuseIfBlocked(request.ip, now);
      key = hash === null || this.unknown.get(hash, now) ? null : await this.lookUp(hash, now);
    }
    if (!key) {
      this.failures.record(request.ip, now);
      throw new SluiceError('auth.invalid_key');
    }
    if (key.revokedAt) throw new SluiceError('auth.revoked_key');
    this.touch(key.id, now);
    return key;
  }

  /** The admin token, or a key allowed on the stream that holds the scope (403 otherwise). */
  async requireStreamAccess(request: CallerRequest, stream: string, scope: ApiKeyScope): Promise<Caller> {
    if (this.isAdmin(Authenticator.bearer(request))) return { kind: 'admin' };
    const key = await this.requireKey(request);
    if (!keyAllowsStream(key, stream)) {
      throw new SluiceError('auth.stream_forbidden', `This API key may not use stream "${stream}".`);
    }
    if (!keyHasScope(key, scope)) {
      throw new SluiceError('auth.scope_forbidden', `This API key does not have the "${scope}" scope.`);
    }
    return { kind: 'key', key };
  }

  /**
   * Whether the key is still there and not revoked, read through the cache: a request in flight calls it
   * before each commit, so a key revoked meanwhile is refused within KEY_CACHE_TTL_MS on every replica.
   */
  async stillValid(keyId: string): Promise<boolean> {
    const now = Date.now();
    let key = this.byId.get(keyId, now);
    if (key === undefined) {
      const found = await findApiKeyById(this.db, keyId);
      if (!found) return false;
      this.remember(found, now);
      key = found;
    }
    return !key.revokedAt;
  }

  /** Whether a key's hash is cached as known right now (tests: was a request answered without a lookup?). */
  isCached(hash: string): boolean {
    return this.byHash.peek(hash, Date.now());
  }

  private refuseIfBlocked(address: string, now: number): void {
    const seconds = this.failures.blockedFor(address, now);
    if (seconds > 0) throw new SluiceError('auth.too_many_failures', undefined, { headers: { 'retry-after': String(seconds) } });
  }

  private async lookUp(hash: string, now: number): Promise<ApiKey | null> {
    const key = await findApiKeyByHash(this.db, hash);
    if (key) this.remember(key, now);
    else this.unknown.set(hash, true, now + this.ttlMs);
    return key;
  }

  private remember(key: ApiKey, now: number): void {
    this.byHash.set(key.hash, key, now + this.ttlMs);
    this.byId.set(key.id, key, now + this.ttlMs);
  }

  /** Records last use at most once a minute per key, without making the request wait. */
  private touch(id: string, now: number) {
    const last = this.touched.get(id) ?? 0;
    if (now - last < TOUCH_INTERVAL_MS) return;
    this.touched.set(id, now);
    touchApiKey(this.db, id, new Date(now)).catch((error) => this.log.warn({ err: error }, 'could not record key use'));
  }
}
