/**
 * An early, optimistic check: a request without a session cookie is sent to the login page before any
 * page renders. It only looks for the cookie; every page, route handler and action still verifies the
 * session itself (lib/dal.ts), since a forged or ended cookie passes here.
 *
 * The matcher leaves out the upload route (a proxy makes Next clone the request body, cut at 10 MB),
 * the login and setup pages, the health check, and Next's static assets.
 */
import { type NextRequest, NextResponse } from 'next/server';

export function proxy(request: NextRequest) {
  if (request.cookies.has('__Host-sluice_session') || request.cookies.has('sluice_session')) return NextResponse.next();
  if (request.nextUrl.pathname.startsWith('/api/')) {
    return NextResponse.json({ error: { code: 'auth.session_required', message: 'Please sign in.', requestId: '' } }, { status: 401 });
  }
  return NextResponse.redirect(new URL('/login', request.url));
}

export const config = {
  matcher: ['/((?!api/upload/|login$|setup$|healthz$|_next/static/|_next/image/|favicon.ico$).*)'],
};
