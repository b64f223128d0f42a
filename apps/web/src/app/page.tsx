export default function Home() {
  return (
    <main style={{ maxWidth: 640, margin: '10vh auto', padding: 24 }}>
      <h1>Sluice</h1>
      <p>Stream CSV and JSON Lines into Parquet, ClickHouse and your lake.</p>
    </main>
  );
}
