/**
 * System packages the suite needs (Debian's chromium, clickhouse-server, prometheus): installed with apt
 * when missing and running as root, else the run stops with a message naming them.
 */
import fs from 'node:fs';
import { run } from '@sluice/testkit';

export interface SystemPackage {
  /** The apt package name. */
  name: string;
  /** A file whose presence means the package is installed. */
  binary: string;
  aptArgs?: string[];
}

export async function ensureSystemPackages(packages: SystemPackage[]): Promise<void> {
  const missing = packages.filter((pkg) => !fs.existsSync(pkg.binary));
  if (missing.length === 0) {
    console.log(packages.length ? `present: ${packages.map((p) => p.name).join(', ')}` : 'none needed');
    return;
  }
  const names = missing.map((pkg) => pkg.name);
  if (process.getuid?.() !== 0) {
    throw new Error(`missing system packages: ${names.join(', ')}. Install them with: sudo apt-get install ${names.join(' ')}`);
  }
  console.log(`installing ${names.join(', ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env });
  // One apt-get per set of options: installing together is much faster than one by one.
  const groups = new Map<string, SystemPackage[]>();
  for (const pkg of missing) {
    const options = (pkg.aptArgs ?? []).join(' ');
    groups.set(options, [...(groups.get(options) ?? []), pkg]);
  }
  for (const [options, group] of groups) {
    await run('apt-get', ['install', '-y', '-qq', ...(options ? options.split(' ') : []), ...group.map((p) => p.name)], { env });
  }
}
