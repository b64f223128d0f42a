import { clickHouseDelivery, deltaTableSummary, findStream, lastCompaction, listDataFiles, listSchemaVersions } from '@sluice/db';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { CopyButton } from '../../../../components/copy-button';
import { QuarantineSection } from '../../../../components/quarantine-section';
import { SchemaVersionForm } from '../../../../components/schema-version-form';
import { UploadPanel } from '../../../../components/upload-panel';
import { env } from '../../../../env';
import { db } from '../../../../lib/db';
import { formatBytes, formatNumber, formatTime } from '../../../../lib/format';
import { verifySession } from '../../../../lib/dal';
import { retryClickHouseAction } from '../../../actions/streams';

export const dynamic = 'force-dynamic';

export default async function StreamPage({
  params,
  searchParams,
}: {
  params: Promise<{ name: string }>;
  searchParams: Promise<{ code?: string; request?: string; cursor?: string }>;
}) {
  await verifySession();
  const { name } = await params;
  const { code, request, cursor } = await searchParams;
  const stream = await findStream(db(), name);
  if (!stream) notFound();
  const [versions, files, delivery, table, compaction] = await Promise.all([
    listSchemaVersions(db(), name),
    listDataFiles(db(), name, { limit: 50 }),
    stream.sinks.clickhouse ? clickHouseDelivery(db(), name) : null,
    deltaTableSummary(db(), stream.id),
    lastCompaction(db(), stream.id),
  ]);
  const queries = `-- ClickHouse (S3: deltaLake('https://<bucket endpoint>/${stream.name}/', '<key>', '<secret>'))
SELECT count() FROM deltaLakeLocal('<lake>/${stream.name}');

-- DuckDB (INSTALL delta; LOAD delta;)
SELECT count(*) FROM delta_scan('<lake>/${stream.name}');`;
  const ingestUrl = env().INGEST_PUBLIC_URL ?? env().INGEST_URL;
  const header = stream.schema.columns.map((c) => c.name).join(stream.delimiter === '\t' ? '\\t' : stream.delimiter);
  const flightUrl = env().FLIGHT_PUBLIC_URL ?? `grpc://${new URL(ingestUrl).hostname}:8815`;
  const arrowSnippets = arrowExamples(stream.name, ingestUrl, flightUrl);
  const curl = `curl -T data.csv \\
  -H "Authorization: Bearer $SLUICE_KEY" \\
  -H "Content-Type: text/csv" \\
  ${ingestUrl}/v1/streams/${stream.name}/rows`;
  return (
    <>
      <header className="page-header">
        <div>
          <h1>{stream.name}</h1>
          {stream.description && <p className="muted">{stream.description}</p>}
        </div>
      </header>

      <section className="cards">
        <div className="card">
          <div className="muted small">Schema</div>
          <div>version {stream.schemaVersion}</div>
        </div>
        <div className="card">
          <div className="muted small">Batches</div>
          <div>
            {formatNumber(stream.batch.maxRows)} rows · {formatBytes(stream.batch.maxBytes)} · {stream.batch.maxAgeMs} ms
          </div>
        </div>
        <div className="card">
          <div className="muted small">Partitions</div>
          <div>
            by {stream.partitioning.source === 'ingest' ? 'ingest time' : <code>{stream.partitioning.source}</code>},{' '}
            {stream.partitioning.granularity === 'hour' ? 'an hour' : 'a day'} each
          </div>
        </div>
        <div className="card">
          <div className="muted small">Rejected rows</div>
          <div>{stream.rejectMode === 'skip' ? 'skipped and reported' : 'all or nothing (422)'}</div>
        </div>
      </section>

      <section aria-label="Delta table">
        <h2>Delta table</h2>
        {table.version < 0 ? (
          <p>No version yet: the table is created with the first file.</p>
        ) : (
          <p>
            Version {formatNumber(table.version)}
            {table.checkpointVersion !== null && <> (checkpoint at {formatNumber(table.checkpointVersion)})</>} ·{' '}
            {formatNumber(table.activeFiles)} file(s), {formatBytes(table.averageFileBytes)} on average
            {table.pendingFiles > 0 && <> · {formatNumber(table.pendingFiles)} file(s) about to be added</>}
          </p>
        )}
        <p>
          {compaction ? (
            <>
              Last compaction {formatTime(compaction.finishedAt.toISOString())}: {formatNumber(compaction.filesIn)} files of{' '}
              <code>{compaction.partition}</code> into one ({formatNumber(compaction.rows)} rows, {formatBytes(compaction.bytesIn)} →{' '}
              {formatBytes(compaction.bytesOut)}).
            </>
          ) : (
            <>No compaction yet: small files are compacted once a partition has enough of them.</>
          )}{' '}
          {stream.retentionDays !== null ? (
            <>Keeps {formatNumber(stream.retentionDays)} day(s) of partitions.</>
          ) : (
            <>Keeps every partition.</>
          )}
        </p>
        <figure className="flush" aria-label="Delta queries">
          <pre className="code">{queries}</pre>
        </figure>
        <p className="muted small">
          <code>&lt;lake&gt;</code> is the lake folder (<code>LAKE_DIR</code>) or the bucket; any Delta Lake reader reads the table at the
          stream&apos;s prefix.
        </p>
      </section>

      {delivery && (
        <section aria-label="ClickHouse delivery">
          <h2>ClickHouse</h2>
          <p>
            Table <code>{stream.sinks.clickhouse?.table}</code>: {formatNumber(delivery.pending)} file(s) waiting,{' '}
            {formatNumber(delivery.failed)} failed.
          </p>
          {delivery.failed > 0 && (
            <>
              <table>
                <thead>
                  <tr>
                    <th>Written</th>
                    <th>Object key</th>
                    <th className="num">Attempts</th>
                    <th>Error</th>
                  </tr>
                </thead>
                <tbody>
                  {delivery.failures.map((failure) => (
                    <tr key={failure.key}>
                      <td>{formatTime(failure.at)}</td>
                      <td className="break">{failure.key}</td>
                      <td className="num">{failure.attempts}</td>
                      <td className="break">{failure.error}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <form action={retryClickHouseAction.bind(null, stream.name)}>
                <button type="submit">Retry the failed files</button>
              </form>
            </>
          )}
        </section>
      )}

      <div id="quarantine">
        <QuarantineSection stream={stream.name} filter={{ code, request, cursor }} />
      </div>

      <h2>Upload</h2>
      <UploadPanel stream={stream.name} />

      <h2>Send from a producer</h2>
      <figure className="flush" aria-label="curl example">
        <pre className="code">{`${curl}

# data.csv starts with the header: ${header}`}</pre>
      </figure>
      <div className="row">
        <CopyButton text={curl} label="Copy the curl command" />
      </div>
      <p className="muted small">
        Create a key for this stream on the <Link href="/keys">API keys</Link> page. NDJSON: <code>Content-Type: application/x-ndjson</code>
        ; gzip: <code>Content-Encoding: gzip</code>.
      </p>

      <h2>Send Arrow</h2>
      <p className="muted small">
        Arrow record batches go in as they are: fields matched to columns by name, no text parsed. Over HTTP as an Arrow IPC stream (
        <code>Content-Type: application/vnd.apache.arrow.stream</code>), or over Arrow Flight at <code>{flightUrl}</code> (DoPut, the API
        key in the <code>authorization</code> header).
      </p>
      {arrowSnippets.map((snippet) => (
        <figure className="flush" aria-label={snippet.label} key={snippet.label}>
          <figcaption className="muted small">{snippet.label}</figcaption>
          <pre className="code">{snippet.code}</pre>
          <div className="row">
            <CopyButton text={snippet.code} label={`Copy: ${snippet.label}`} />
          </div>
        </figure>
      ))}

      <h2>Schema versions</h2>
      {versions.map((version) => (
        <details key={version.version} open={version.version === stream.schemaVersion}>
          <summary>
            Version {version.version} · {formatTime(version.createdAt)}
          </summary>
          <table>
            <thead>
              <tr>
                <th>Column</th>
                <th>Type</th>
                <th>Nullable</th>
              </tr>
            </thead>
            <tbody>
              {version.schema.columns.map((column) => (
                <tr key={column.name}>
                  <td>{column.name}</td>
                  <td>{column.type}</td>
                  <td>{column.nullable ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
      <SchemaVersionForm stream={stream.name} current={stream.schema.columns} />

      <h2>Files</h2>
      {files.files.length === 0 ? (
        <p className="empty">No files yet: upload a file or send rows from a producer.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Written</th>
              <th>Object key</th>
              <th className="num">Rows</th>
              <th className="num">Size</th>
              <th>ClickHouse</th>
            </tr>
          </thead>
          <tbody>
            {files.files.map((file) => (
              <tr key={file.id}>
                <td>{formatTime(file.createdAt)}</td>
                <td>
                  <Link href={`/streams/${stream.name}/preview?key=${encodeURIComponent(file.key)}`}>{file.key}</Link>
                </td>
                <td className="num">{formatNumber(file.rows)}</td>
                <td className="num">{formatBytes(file.bytes)}</td>
                <td>{file.clickhouseStatus}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** How to send Arrow to the stream: pyarrow over HTTP, pyarrow over Flight, Node with apache-arrow. */
function arrowExamples(stream: string, ingestUrl: string, flightUrl: string): { label: string; code: string }[] {
  return [
    {
      label: 'pyarrow, Arrow IPC over HTTP',
      code: `import io, os, pyarrow as pa, requests

table = pa.table({...})  # columns named as the stream's
sink = io.BytesIO()
with pa.ipc.new_stream(sink, table.schema) as writer:
    writer.write_table(table, max_chunksize=65536)
response = requests.post(
    "${ingestUrl}/v1/streams/${stream}/rows",
    data=sink.getvalue(),
    headers={"Authorization": f"Bearer {os.environ['SLUICE_KEY']}",
             "Content-Type": "application/vnd.apache.arrow.stream"},
)
print(response.json())`,
    },
    {
      label: 'pyarrow, Arrow Flight',
      code: `import json, os, pyarrow as pa, pyarrow.flight as flight

client = flight.FlightClient("${flightUrl}")
options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {os.environ['SLUICE_KEY']}".encode())])
descriptor = flight.FlightDescriptor.for_path("${stream}")
writer, reader = client.do_put(descriptor, table.schema, options)
writer.write_table(table, max_chunksize=65536)
writer.done_writing()
print(json.loads(reader.read().to_pybytes()))  # the HTTP route's answer
writer.close()`,
    },
    {
      label: 'Node, apache-arrow over HTTP',
      code: `import { tableFromArrays, tableToIPC } from 'apache-arrow';

const table = tableFromArrays({ /* columns named as the stream's */ });
const response = await fetch('${ingestUrl}/v1/streams/${stream}/rows', {
  method: 'POST',
  headers: { authorization: \`Bearer \${process.env.SLUICE_KEY}\`, 'content-type': 'application/vnd.apache.arrow.stream' },
  body: tableToIPC(table, 'stream'),
});
console.log(await response.json());`,
    },
  ];
}
