/** Reads the configuration at start: a bad one stops the console here, not at its first request. */
import { env } from './env';

try {
  env();
} catch (error) {
  // Next logs a throw from the instrumentation hook and serves on regardless, every page failing.
  console.error(`[sluice] ${(error as Error).message}`);
  process.exit(1);
}
