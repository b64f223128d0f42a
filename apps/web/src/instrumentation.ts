/** Runs once when the console's server starts: a bad configuration stops it here, not at the first request. */
export async function register() {
  if (process.env.NEXT_RUNTIME === 'nodejs') {
    const { env } = await import('./env');
    env();
  }
}
