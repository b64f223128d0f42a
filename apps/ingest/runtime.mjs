/**
 * How the ingest service's process is started, in one place: its Node flags and the allocator settings of
 * its environment (glibc reads MALLOC_* once, at process start, so they cannot be set from inside).
 * `npm start` (scripts/start.ts), the benchmarks (bench/src/service.ts), the tests that start the built
 * service, and `start.mjs` (this package's `npm start`, and the container image) all take them from here.
 *
 * - `--expose-gc`: young-generation collections on demand (see src/pipeline/young-gc.ts); without it the
 *   service runs, with more memory held by dead buffers between V8's own collections.
 * - `--max-semi-space-size=4`: a small young generation keeps the main thread's garbage short-lived.
 * - `MALLOC_ARENA_MAX=2`: two malloc arenas instead of one per thread, so the worker threads' freed
 *   buffers are reused (about 90 MB less peak RSS on bench:ingest).
 * - `MALLOC_MMAP_THRESHOLD_=33554432`: glibc keeps freed buffers of up to 32 MiB (column chunks, Parquet
 *   files) in its arenas for the next ones instead of mapping new memory each time; on virtual machines a
 *   page fault is dear, and at a 128 KiB or 1 MiB threshold they took a third of the service's CPU (per
 *   2M-row CSV request 57,000-117,000 faults, against 9,000-24,000 at 32 MiB), for ~15 MB more peak RSS.
 */

export const NODE_FLAGS = ['--expose-gc', '--max-semi-space-size=4'];

export const ALLOCATOR_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '33554432' };

/** The service's environment: `env`, with the allocator settings where `env` does not set its own. */
export function serviceEnv(env) {
  return { ...ALLOCATOR_ENV, ...Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== '')) };
}
