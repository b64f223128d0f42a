import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

/** env() caches what it read, so each configuration is read in a process of its own. */
function readEnv(extra: Record<string, string>): { ok: boolean; output: string } {
  const script = `import('./env.ts').then((m) => { m.env(); console.log('ok'); }).catch((e) => { console.log(e.message); process.exit(1); })`;
  const base = { PATH: process.env.PATH ?? '', DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/test' };
  // Next's types make NODE_ENV a required union in ProcessEnv; these are plain strings on purpose.
  const childEnv = { ...base, ...extra } as unknown as NodeJS.ProcessEnv;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: import.meta.dirname,
    env: childEnv,
  });
  return { ok: child.status === 0, output: child.stdout.toString() };
}

describe('console configuration', () => {
  it('refuses production without SLUICE_SESSION_SECRET', () => {
    const result = readEnv({ NODE_ENV: 'production' });
    assert.equal(result.ok, false);
    assert.match(result.output, /SLUICE_SESSION_SECRET: is required when NODE_ENV=production/);
  });

  it('takes production with a secret, and development without one', () => {
    assert.equal(readEnv({ NODE_ENV: 'production', SLUICE_SESSION_SECRET: 'x'.repeat(32) }).ok, true);
    assert.equal(readEnv({ NODE_ENV: 'development' }).ok, true);
  });

  it('reads SLUICE_TRUST_PROXY as a flag and refuses a short setup token', () => {
    assert.equal(readEnv({ SLUICE_TRUST_PROXY: 'maybe' }).ok, false);
    assert.equal(readEnv({ SLUICE_TRUST_PROXY: '1', SLUICE_SETUP_TOKEN: 'short' }).ok, false);
  });
});
