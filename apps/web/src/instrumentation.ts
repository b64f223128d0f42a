/** Runs once when the console's server starts (see check-env.ts). */
export async function register() {
  if (process.env.NEXT_RUNTIME === 'nodejs') await import('./check-env');
}
