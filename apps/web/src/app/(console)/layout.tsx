import Link from 'next/link';
import type { ReactNode } from 'react';
import { verifySession } from '../../lib/dal';
import { logout } from '../actions/auth';
import { Providers } from '../../components/providers';

export const dynamic = 'force-dynamic';

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const operator = await verifySession();
  return (
    <Providers>
      <div className="shell">
        <nav className="sidebar" aria-label="Main">
          <Link href="/" className="brand">
            Sluice
          </Link>
          <Link href="/">Streams</Link>
          <Link href="/keys">API keys</Link>
          <Link href="/metrics">Metrics</Link>
          <Link href="/account">Sessions</Link>
          <div className="spacer" />
          <span className="muted small">{operator.email}</span>
          <form action={logout}>
            <button type="submit" className="link">
              Sign out
            </button>
          </form>
        </nav>
        <main className="content">{children}</main>
      </div>
    </Providers>
  );
}
