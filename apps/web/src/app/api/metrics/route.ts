/** GET /api/metrics: one snapshot of the numbers the metrics charts plot (signed-in operators only). */
import { verifyApiSession } from '../../../lib/dal';
import { readMetrics } from '../../../lib/metrics-source';

export const dynamic = 'force-dynamic';

export async function GET() {
  const operator = await verifyApiSession();
  if (operator instanceof Response) return operator;
  try {
    return Response.json(await readMetrics());
  } catch (error) {
    return Response.json(
      { error: { code: 'metrics.unavailable', message: `Metrics are unavailable: ${(error as Error).message}`, requestId: '' } },
      { status: 503 },
    );
  }
}
