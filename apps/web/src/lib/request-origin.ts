/**
 * What the console knows about where a request came from: whether it arrived over HTTPS, the client's
 * address and the host it was sent to. Forwarded headers are believed only with SLUICE_TRUST_PROXY.
 */
import { env } from '../env';

type HeaderSource = { get(name: string): string | null };

function firstValue(value: string | null): string | undefined {
  return value?.split(',')[0]?.trim() || undefined;
}

export function requestIsSecure(headers: HeaderSource): boolean {
  const { SLUICE_PUBLIC_URL, SLUICE_TRUST_PROXY } = env();
  if (SLUICE_PUBLIC_URL?.startsWith('https:')) return true;
  return SLUICE_TRUST_PROXY && firstValue(headers.get('x-forwarded-proto')) === 'https';
}

/**
 * The client's address for throttling: the last X-Forwarded-For entry, which is the one the nearest proxy
 * (or Next's own server, from the socket) added. Without a trusted proxy a client can send its own
 * X-Forwarded-For, which Next keeps: per-address limits then hold only for clients that do not.
 */
export function clientAddress(headers: HeaderSource): string {
  const forwarded = headers.get('x-forwarded-for');
  const last = forwarded?.split(',').pop()?.trim();
  return last || 'unknown';
}

/** The hosts a same-origin request may name in Origin: the Host it was sent to and SLUICE_PUBLIC_URL's. */
function expectedHosts(headers: HeaderSource): string[] {
  const hosts: string[] = [];
  const { SLUICE_PUBLIC_URL, SLUICE_TRUST_PROXY } = env();
  if (SLUICE_PUBLIC_URL) hosts.push(new URL(SLUICE_PUBLIC_URL).host);
  const forwardedHost = SLUICE_TRUST_PROXY ? firstValue(headers.get('x-forwarded-host')) : undefined;
  const host = forwardedHost ?? headers.get('host');
  if (host) hosts.push(host.toLowerCase());
  return hosts;
}

/**
 * CSRF defence for state-changing routes: Origin (or, when a browser leaves it out, Referer) must name
 * this console. A request with neither is refused: browsers send Origin on every cross-origin POST and on
 * same-origin fetch / XHR POSTs, and scripts have the ingest API for uploads.
 */
export function sameOrigin(headers: HeaderSource): boolean {
  const source = headers.get('origin') ?? headers.get('referer');
  if (!source || source === 'null') return false;
  let host: string;
  try {
    host = new URL(source).host.toLowerCase();
  } catch {
    return false;
  }
  return expectedHosts(headers).includes(host);
}
