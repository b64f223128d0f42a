/**
 * Packages the production tree (`npm ls --omit=dev`) must not hold, each with the advisories it stands for.
 * `npm audit` cannot reach its endpoint from the build machines (the registry answers 405), so
 * scripts/supply-chain.test.ts checks this list instead; where `npm audit --omit=dev` works, run it too.
 * One list: add an entry here when a test-only package or a known-vulnerable version must stay out.
 */
export interface BannedPackage {
  name: string;
  /** Versions below this one are banned; every version when absent. */
  below?: string;
  /** GitHub advisory ids (GHSA) or, for a package banned for what it is, why. */
  advisories: string[];
}

export const BANNED_PACKAGES: readonly BannedPackage[] = [
  {
    // A test S3 server (testkit starts it): it brings busboy 0.3, dicer 0.3 and fast-xml-parser 3.21.
    name: 's3rver',
    advisories: ['test-only: an S3 server for tests, unmaintained, pulls in the packages below'],
  },
  // busboy before 1.0 parses multipart headers with dicer.
  { name: 'busboy', below: '1.0.0', advisories: ['GHSA-wm7h-9275-46v2'] },
  // Crash in HeaderParser: a crafted multipart header kills the process. No fixed version of dicer exists.
  { name: 'dicer', advisories: ['GHSA-wm7h-9275-46v2'] },
  // Regex injection through DOCTYPE entity names (fixed in 4.2.4), its incomplete fix (4.2.5).
  { name: 'fast-xml-parser', below: '4.2.5', advisories: ['GHSA-6w63-h3fj-q4vw', 'GHSA-gpv5-7x3g-ghjv'] },
];

/** Compares dotted numeric versions (a pre-release tag counts as before its release). */
export function versionBelow(version: string, limit: string): boolean {
  const [core = '', pre] = version.split('-', 2);
  const a = core.split('.').map(Number);
  const b = limit.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return pre !== undefined;
}

export function bannedEntry(name: string, version: string): BannedPackage | undefined {
  return BANNED_PACKAGES.find((entry) => entry.name === name && (entry.below === undefined || versionBelow(version, entry.below)));
}
