import { listApiKeys, listStreams } from '@sluice/db';
import { KeyCreator, RevokeButton } from '../../../components/keys';
import { db } from '../../../lib/db';
import { formatTime } from '../../../lib/format';
import { verifySession } from '../../../lib/dal';

export const dynamic = 'force-dynamic';

export default async function KeysPage() {
  await verifySession();
  const [keys, streams] = await Promise.all([listApiKeys(db()), listStreams(db())]);
  return (
    <>
      <header className="page-header">
        <h1>API keys</h1>
      </header>
      <KeyCreator streams={streams.map((s) => s.name)} />
      {keys.length === 0 ? (
        <p className="empty">No keys yet. Producers need a key to send rows.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Key</th>
              <th>Streams</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Status</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.start}…</code>
                </td>
                <td>{key.streams === '*' ? 'all streams' : key.streams.join(', ')}</td>
                <td>{formatTime(key.createdAt)}</td>
                <td>{key.lastUsedAt ? formatTime(key.lastUsedAt) : <span className="muted">never</span>}</td>
                <td>
                  <span className={`badge ${key.status}`}>{key.status}</span>
                </td>
                <td>{key.status === 'active' && <RevokeButton id={key.id} name={key.name} />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
