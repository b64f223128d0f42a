/**
 * An early redirect for visitors without a session cookie. It is only a convenience: every page, server
 * action and route handler verifies the session against the database itself.
 */
import { NextResponse, type NextRequest } from 'next/server';

const PUBLIC = ['/login', '/setup', '/healthz'];

export function proxy(request: NextRequest) {
  const { pathname } = request.nextUrl;
  if (PUBLIC.some((path) => pathname === path) || pathname.startsWith('/_next')) return NextResponse.next();
  if (request.cookies.has('sluice_session')) return NextResponse.next();
  if (pathname.startsWith('/api/')) {
    return NextResponse.json({ error: { code: 'auth.session_required', message: 'Please sign in.', requestId: '' } }, { status: 401 });
  }
  return NextResponse.redirect(new URL('/login', request.url));
}

export const config = { matcher: '/((?!_next/static|_next/image|favicon.ico).*)' };
