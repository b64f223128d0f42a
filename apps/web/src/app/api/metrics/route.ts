/** GET /api/metrics: one snapshot of the numbers the metrics charts plot (signed-in operators only). */
import { operatorOr401 } from '../../../lib/api-auth';
import { readMetrics } from '../../../lib/metrics-source';

export const dynamic = 'force-dynamic';

export async function GET() {
  const operator = await operatorOr401();
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
