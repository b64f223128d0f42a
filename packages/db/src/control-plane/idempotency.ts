/**
 * Idempotency-Key records: one per stream and key, shared by every replica. An attempt claims the key
 * with a lease (renewed while it runs; a holder that died frees it when the lease runs out), learns which
 * body lines earlier attempts already committed (IdempotentSpan rows, written with the files), and ends
 * it `completed` (its answer kept for replays) or `partial` (a retry stores the rest). Times are the
 * database's, so replicas with skewed clocks agree on leases.
 */
import { newId } from '@sluice/shared';
import type { Db } from '../client';

/** Lines [from, to] of the body (1-based, as in row errors). */
export type LineSpan = [from: number, to: number];

export type IdempotencyClaim =
  /** An earlier attempt was answered: its answer, and the body it read (to compare with this one). */
  | { kind: 'completed'; status: number; response: unknown; bodySha256: string | null }
  /** Another attempt holds the key; it may be tried again in `retryAfterSeconds`. */
  | { kind: 'in_flight'; retryAfterSeconds: number }
  /** This attempt holds the key. `committed`: lines already stored, merged and sorted. */
  | { kind: 'claimed'; id: string; committed: LineSpan[]; bodySha256: string | null; attempt: number };

export interface ClaimOptions {
  streamId: string;
  key: string;
  /** Who holds the lease (the request's id). */
  holder: string;
  leaseMs: number;
  ttlHours: number;
}

interface KeyRow {
  id: string;
  state: 'in_flight' | 'partial' | 'completed';
  waitMs: number | null;
  bodySha256: string | null;
  status: number | null;
  response: unknown;
  attempts: number;
}

export async function claimIdempotencyKey(db: Db, options: ClaimOptions): Promise<IdempotencyClaim> {
  const [claim] = await claimIdempotencyKeys(db, [options]);
  return claim!;
}

/**
 * Claims several keys with one statement for the new ones (the common case: a key's first attempt) and a
 * transaction each for keys already on record. Answers in the order asked; the same key asked twice is
 * claimed by the first and in flight for the second.
 */
export async function claimIdempotencyKeys(db: Db, claims: ClaimOptions[]): Promise<IdempotencyClaim[]> {
  const ids = claims.map(() => newId('idem'));
  const fresh = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO "IdempotencyKey" ("id", "streamId", "key", "state", "holder", "leaseUntil", "attempts", "expiresAt")
    SELECT c.id, c.stream_id, c.key, 'in_flight', c.holder, now() + c.lease_ms * interval '1 millisecond', 1,
           now() + c.ttl_hours * interval '1 hour'
    FROM unnest(${ids}::text[], ${claims.map((c) => c.streamId)}::text[], ${claims.map((c) => c.key)}::text[],
                ${claims.map((c) => c.holder)}::text[], ${claims.map((c) => Math.max(1, Math.round(c.leaseMs)))}::int[],
                ${claims.map((c) => c.ttlHours)}::float8[])
         WITH ORDINALITY AS c(id, stream_id, key, holder, lease_ms, ttl_hours, n)
    ORDER BY c.n
    ON CONFLICT ("streamId", "key") DO NOTHING
    RETURNING "id"`;
  const claimed = new Set(fresh.map((row) => row.id));
  return Promise.all(
    claims.map((options, i) =>
      claimed.has(ids[i]!)
        ? ({ kind: 'claimed', id: ids[i]!, committed: [], bodySha256: null, attempt: 1 } as const)
        : claimKeyOnRecord(db, options),
    ),
  );
}

/** A key with a record: answered, held by another attempt, or free for this one to resume. */
function claimKeyOnRecord(db: Db, options: ClaimOptions): Promise<IdempotencyClaim> {
  const { streamId, key, holder, leaseMs, ttlHours } = options;
  const lease = `${Math.max(1, Math.round(leaseMs))} milliseconds`;
  const ttl = `${ttlHours} hours`;
  return db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<KeyRow[]>`
      SELECT "id", "state", "bodySha256", "status", "response", "attempts",
             CASE WHEN "state" = 'in_flight' AND "leaseUntil" > now()
                  THEN (EXTRACT(EPOCH FROM ("leaseUntil" - now())) * 1000)::int END AS "waitMs"
      FROM "IdempotencyKey" WHERE "streamId" = ${streamId} AND "key" = ${key} FOR UPDATE`;
    const row = rows[0];
    // Purged between the insert and this select: the caller tries again.
    if (!row) return { kind: 'in_flight', retryAfterSeconds: 1 } as const;
    if (row.state === 'completed') {
      return { kind: 'completed', status: row.status ?? 200, response: row.response, bodySha256: row.bodySha256 } as const;
    }
    if (row.waitMs !== null) return { kind: 'in_flight', retryAfterSeconds: Math.max(1, Math.ceil(row.waitMs / 1000)) } as const;
    await tx.$executeRaw`
      UPDATE "IdempotencyKey"
      SET "state" = 'in_flight', "holder" = ${holder}, "leaseUntil" = now() + ${lease}::interval,
          "attempts" = "attempts" + 1, "expiresAt" = now() + ${ttl}::interval
      WHERE "id" = ${row.id}`;
    const spans = await tx.$queryRaw<{ fromLine: bigint; toLine: bigint }[]>`
      SELECT s."fromLine", s."toLine" FROM "IdempotentSpan" s JOIN "DataFile" f ON f."id" = s."fileId"
      WHERE s."idempotencyKeyId" = ${row.id} AND f."state" = 'committed'
      ORDER BY s."fromLine"`;
    return {
      kind: 'claimed',
      id: row.id,
      committed: mergeSpans(spans.map((span) => [Number(span.fromLine), Number(span.toLine)])),
      bodySha256: row.bodySha256,
      attempt: row.attempts + 1,
    } as const;
  });
}

/** Sorted spans, overlapping or adjacent ones joined. */
export function mergeSpans(spans: LineSpan[]): LineSpan[] {
  const sorted = [...spans].sort((a, b) => a[0] - b[0]);
  const merged: LineSpan[] = [];
  for (const [from, to] of sorted) {
    const last = merged[merged.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  return merged;
}

/** Extends the lease; false when this holder lost the key (its lease ran out and another attempt took it). */
export async function renewIdempotencyLease(db: Db, id: string, holder: string, leaseMs: number): Promise<boolean> {
  const lease = `${Math.max(1, Math.round(leaseMs))} milliseconds`;
  const updated = await db.$executeRaw`
    UPDATE "IdempotencyKey" SET "leaseUntil" = now() + ${lease}::interval
    WHERE "id" = ${id} AND "holder" = ${holder} AND "state" = 'in_flight'`;
  return updated === 1;
}

export interface AttemptEnd {
  /** `completed` keeps the answer for replays; `partial` lets a retry store the rest. */
  state: 'completed' | 'partial';
  /** The body's digest and size, when this attempt read it whole. */
  bodySha256?: string;
  bodyBytes?: number;
  status?: number;
  response?: unknown;
}

/** Ends this holder's attempt, freeing the key. False when the holder had lost it meanwhile. */
export async function endIdempotencyAttempt(db: Db, id: string, holder: string, end: AttemptEnd): Promise<boolean> {
  const [held] = await endIdempotencyAttempts(db, [{ id, holder, end }]);
  return held!;
}

/** Ends several attempts with one statement; for each, in order, whether its holder still held the key. */
export async function endIdempotencyAttempts(db: Db, attempts: { id: string; holder: string; end: AttemptEnd }[]): Promise<boolean[]> {
  const ended = await db.$queryRaw<{ id: string }[]>`
    UPDATE "IdempotencyKey" k
    SET "state" = e.state::"IdempotencyState", "holder" = NULL, "leaseUntil" = NULL,
        "bodySha256" = COALESCE(e.body_sha256, k."bodySha256"), "bodyBytes" = COALESCE(e.body_bytes, k."bodyBytes"),
        "status" = e.status, "response" = e.response
    FROM unnest(${attempts.map((a) => a.id)}::text[], ${attempts.map((a) => a.holder)}::text[],
                ${attempts.map((a) => a.end.state)}::text[], ${attempts.map((a) => a.end.bodySha256 ?? null)}::text[],
                ${attempts.map((a) => (a.end.bodyBytes === undefined ? null : String(a.end.bodyBytes)))}::bigint[],
                ${attempts.map((a) => a.end.status ?? null)}::int[],
                ${attempts.map((a) => (a.end.response === undefined ? null : JSON.stringify(a.end.response)))}::jsonb[])
         AS e(id, holder, state, body_sha256, body_bytes, status, response)
    WHERE k."id" = e.id AND k."holder" = e.holder
    RETURNING k."id"`;
  const held = new Set(ended.map((row) => row.id));
  return attempts.map((attempt) => held.has(attempt.id));
}

/** Deletes keys past their expiry (and their spans) that no attempt holds; returns how many. */
export async function purgeIdempotencyKeys(db: Db): Promise<number> {
  return db.$executeRaw`
    DELETE FROM "IdempotencyKey"
    WHERE "expiresAt" < now() AND NOT ("state" = 'in_flight' AND "leaseUntil" > now())`;
}
