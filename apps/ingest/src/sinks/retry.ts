/**
 * Retries with exponential backoff and jitter: before attempt n it waits between half and all of
 * min(max, base * 2^(n-1)), so replicas retrying together spread out but never hammer a struggling sink.
 */

export interface RetryOptions {
  attempts: number;
  baseMs: number;
  maxMs: number;
  onRetry?: (attempt: number, error: unknown) => void;
}

export async function withRetries<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    if (attempt > 0) {
      options.onRetry?.(attempt, lastError);
      const cap = Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, cap / 2 + (Math.random() * cap) / 2));
    }
    try {
      return await operation();
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
