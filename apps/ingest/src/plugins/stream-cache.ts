/** Stream definitions by name, cached briefly (STREAM_CACHE_TTL_MS) so each request does not hit Postgres. */
import { findStream, type Db } from '@sluice/db';
import { SluiceError, type StreamDto } from '@sluice/shared';

export class StreamCache {
  private readonly entries = new Map<string, { stream: StreamDto; expires: number }>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs: number,
  ) {}

  async get(name: string): Promise<StreamDto> {
    const now = Date.now();
    const cached = this.entries.get(name);
    if (cached && cached.expires > now) return cached.stream;
    const stream = await findStream(this.db, name);
    if (!stream) throw new SluiceError('stream.not_found', `No stream is named "${name}".`);
    this.entries.set(name, { stream, expires: now + this.ttlMs });
    return stream;
  }

  /** Called after this replica changes a stream, so it sees its own change at once. */
  forget(name: string): void {
    this.entries.delete(name);
  }
}
