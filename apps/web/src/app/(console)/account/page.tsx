import { listSessions } from '@sluice/db';
import { verifySession } from '../../../lib/dal';
import { db } from '../../../lib/db';
import { formatTime } from '../../../lib/format';
import { endOtherSessionsAction } from '../../actions/account';

export const dynamic = 'force-dynamic';

export default async function AccountPage() {
  const operator = await verifySession();
  const sessions = await listSessions(db(), operator.id);
  return (
    <>
      <header className="page-header">
        <div>
          <h1>Sessions</h1>
          <p className="muted">Where {operator.email} is signed in. Sessions end after a period without use, or when signed out.</p>
        </div>
      </header>
      <table>
        <thead>
          <tr>
            <th>Signed in</th>
            <th>Last used</th>
            <th>Expires</th>
            <th>
              <span className="sr-only">This session</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sessions.map((session) => (
            <tr key={session.id}>
              <td>{formatTime(session.createdAt)}</td>
              <td>{formatTime(session.lastSeenAt)}</td>
              <td>{formatTime(session.expiresAt)}</td>
              <td>{session.id === operator.sessionId ? <span className="badge active">this session</span> : null}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form action={endOtherSessionsAction} className="row">
        <button type="submit" className="danger" disabled={sessions.length < 2}>
          Sign out all other sessions
        </button>
      </form>
    </>
  );
}
