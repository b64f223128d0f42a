import { MetricsCharts } from '../../../components/metrics-charts';
import { verifySession } from '../../../lib/dal';

export default async function MetricsPage() {
  await verifySession();
  return (
    <>
      <header className="page-header">
        <h1>Metrics</h1>
      </header>
      <MetricsCharts />
    </>
  );
}
