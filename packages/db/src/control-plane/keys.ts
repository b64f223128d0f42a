/**
 * API keys: created with a plaintext shown once (only the hash and a visible start are stored), listed,
 * revoked, and looked up by hash for authentication.
 */
import {
  apiKeyCreateSchema,
  formatIssue,
  generateApiKey,
  newId,
  SluiceError,
  type ApiKeyDto,
  type ApiKeyScope,
  type CreatedApiKeyDto,
} from '@sluice/shared';
import type { Db } from '../client';
import type { ApiKey } from '../generated/prisma/client';

export function toApiKeyDto(row: ApiKey): ApiKeyDto {
  return {
    id: row.id,
    name: row.name,
    start: row.start,
    streams: row.allStreams ? '*' : row.streams,
    scopes: row.scopes,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    status: row.revokedAt ? 'revoked' : 'active',
  };
}

export async function createApiKey(db: Db, input: unknown): Promise<CreatedApiKeyDto> {
  const parsed = apiKeyCreateSchema.safeParse(input);
  if (!parsed.success) throw new SluiceError('request.invalid', parsed.error.issues.map(formatIssue).join('; '));
  const { name, streams, scopes } = parsed.data;
  if (streams !== '*') {
    const found = await db.stream.findMany({ where: { name: { in: streams } }, select: { name: true } });
    const missing = streams.filter((s) => !found.some((f) => f.name === s));
    if (missing.length > 0) {
      throw new SluiceError('stream.not_found', `No stream is named ${missing.map((m) => `"${m}"`).join(', ')}.`);
    }
  }
  const generated = generateApiKey();
  const row = await db.apiKey.create({
    data: {
      id: newId('key'),
      name,
      hash: generated.hash,
      start: generated.start,
      allStreams: streams === '*',
      streams: streams === '*' ? [] : [...new Set(streams)],
      scopes,
    },
  });
  return { ...toApiKeyDto(row), key: generated.key };
}

export async function listApiKeys(db: Db): Promise<ApiKeyDto[]> {
  const rows = await db.apiKey.findMany({ orderBy: { createdAt: 'desc' } });
  return rows.map(toApiKeyDto);
}

export async function revokeApiKey(db: Db, id: string): Promise<ApiKeyDto> {
  const row = await db.apiKey.findUnique({ where: { id } });
  if (!row) throw new SluiceError('key.not_found', `No API key has id "${id}".`);
  if (row.revokedAt) return toApiKeyDto(row);
  return toApiKeyDto(await db.apiKey.update({ where: { id }, data: { revokedAt: new Date() } }));
}

export async function findApiKeyByHash(db: Db, hash: string): Promise<ApiKey | null> {
  return db.apiKey.findUnique({ where: { hash } });
}

/** The key by id: how a request in flight re-checks that its key was not revoked meanwhile. */
export async function findApiKeyById(db: Db, id: string): Promise<ApiKey | null> {
  return db.apiKey.findUnique({ where: { id } });
}

export async function touchApiKey(db: Db, id: string, at = new Date()): Promise<void> {
  await db.apiKey.update({ where: { id }, data: { lastUsedAt: at } });
}

export function keyAllowsStream(key: Pick<ApiKey, 'allStreams' | 'streams'>, stream: string): boolean {
  return key.allStreams || key.streams.includes(stream);
}

export function keyHasScope(key: Pick<ApiKey, 'scopes'>, scope: ApiKeyScope): boolean {
  return key.scopes.includes(scope);
}
