/**
 * The production dependency tree holds no banned package (scripts/lib/banned-packages.ts): what
 * `npm ci --omit=dev` installs in the image is read with `npm ls --omit=dev --all --json`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BANNED_PACKAGES, bannedEntry, versionBelow } from './lib/banned-packages';

const root = path.resolve(import.meta.dirname, '..');

interface LsNode {
  version?: string;
  dependencies?: Record<string, LsNode>;
}

function productionTree(): LsNode {
  const result = spawnSync('npm', ['ls', '--omit=dev', '--all', '--json'], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  // npm ls exits 1 on problems it also prints in the JSON (a missing optional package, say): read the JSON.
  assert.ok(result.stdout, `npm ls printed nothing: ${result.stderr}`);
  return JSON.parse(result.stdout) as LsNode;
}

function findBanned(node: LsNode, trail: string[] = []): string[] {
  const found: string[] = [];
  for (const [name, child] of Object.entries(node.dependencies ?? {})) {
    const here = [...trail, `${name}@${child.version ?? '?'}`];
    const entry = child.version ? bannedEntry(name, child.version) : BANNED_PACKAGES.find((banned) => banned.name === name);
    if (entry) found.push(`${here.join(' > ')} (${entry.advisories.join(', ')})`);
    found.push(...findBanned(child, here));
  }
  return found;
}

describe('supply chain', () => {
  it('the production tree (npm ls --omit=dev) holds none of the banned packages', () => {
    const tree = productionTree();
    assert.ok(tree.dependencies?.['@sluice/ingest'], 'the tree lists the workspaces');
    assert.deepEqual(findBanned(tree), []);
  });

  it('bans by name and below a version, as listed', () => {
    assert.equal(bannedEntry('busboy', '0.3.1')?.advisories[0], 'GHSA-wm7h-9275-46v2');
    assert.equal(bannedEntry('busboy', '1.6.0'), undefined);
    assert.ok(bannedEntry('dicer', '0.3.1'));
    assert.ok(bannedEntry('fast-xml-parser', '3.21.1'));
    assert.ok(bannedEntry('fast-xml-parser', '4.2.4'));
    assert.equal(bannedEntry('fast-xml-parser', '4.2.5'), undefined);
    assert.ok(bannedEntry('s3rver', '3.7.1'));
    assert.equal(versionBelow('4.2.5-rc.1', '4.2.5'), true);
    assert.equal(versionBelow('10.0.0', '9.9.9'), false);
    const tree: LsNode = { dependencies: { '@sluice/testkit': { version: '0.1.0', dependencies: { s3rver: { version: '3.7.1' } } } } };
    assert.equal(findBanned(tree).length, 1);
  });
});
