/** Liveness of the console, for orchestrators and the start script. */
export const dynamic = 'force-dynamic';

export function GET() {
  return Response.json({ status: 'ok' });
}
