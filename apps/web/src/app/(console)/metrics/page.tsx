import { MetricsCharts } from '../../../components/metrics-charts';

export default function MetricsPage() {
  return (
    <>
      <header className="page-header">
        <h1>Metrics</h1>
      </header>
      <MetricsCharts />
    </>
  );
}
