/**
 * Whether a new ingest request may start, decided before its body is read: not while the service shuts
 * down (503), not while the byte budget is past its high-water mark (429), and not past the caps on
 * requests in flight, per process and per key (INGEST_MAX_REQUESTS, INGEST_MAX_REQUESTS_PER_KEY: 429).
 * Each refusal carries Retry-After and is counted by reason.
 */
import { SluiceError } from '@sluice/shared';
import type { ByteBudget } from './byte-budget';

export type RefusalReason = 'shutting_down' | 'busy' | 'too_many_requests';

export interface AdmissionOptions {
  budget: ByteBudget;
  maxRequests: number;
  maxRequestsPerHolder: number;
  retryAfterSeconds: number;
  draining: () => boolean;
  onRefused?: (reason: RefusalReason) => void;
}

/** An admitted request: it must `leave` once answered. */
export interface Admitted {
  leave(): void;
}

export class Admission {
  private total = 0;
  private readonly perHolder = new Map<string, number>();

  constructor(private readonly options: AdmissionOptions) {}

  /** Admits a request of `holder` (a key id, or the admin token), or throws the refusal. */
  admit(holder: string): Admitted {
    const { budget, maxRequests, maxRequestsPerHolder, draining } = this.options;
    if (draining()) this.refuse('shutting_down', 'service.shutting_down');
    if (!budget.admits()) this.refuse('busy', 'ingest.busy');
    const held = this.perHolder.get(holder) ?? 0;
    if (this.total >= maxRequests || held >= maxRequestsPerHolder) this.refuse('too_many_requests', 'ingest.too_many_requests');
    this.total++;
    this.perHolder.set(holder, held + 1);
    let left = false;
    return {
      leave: () => {
        if (left) return;
        left = true;
        this.total--;
        const remaining = (this.perHolder.get(holder) ?? 1) - 1;
        if (remaining === 0) this.perHolder.delete(holder);
        else this.perHolder.set(holder, remaining);
      },
    };
  }

  /** Requests admitted and not yet answered. */
  get inFlight(): number {
    return this.total;
  }

  private refuse(reason: RefusalReason, code: 'service.shutting_down' | 'ingest.busy' | 'ingest.too_many_requests'): never {
    this.options.onRefused?.(reason);
    throw new SluiceError(code, undefined, { headers: { 'retry-after': String(this.options.retryAfterSeconds) } });
  }
}
