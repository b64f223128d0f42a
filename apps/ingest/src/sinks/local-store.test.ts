/**
 * The local-folder store on a real file system: a put leaves the whole file or nothing, and makes durable
 * the folder entries it creates. What a power cut would lose cannot be shown here, so which folders are
 * fsynced is watched through the store's own syncFolder (a spy on the real store, named as such).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { LocalStore } from './local-store';

class WatchedStore extends LocalStore {
  readonly synced: string[] = [];
  protected override async syncFolder(dir: string): Promise<void> {
    this.synced.push(path.relative(this.location, dir) || '.');
    await super.syncFolder(dir);
  }
}

describe('LocalStore', () => {
  it('fsyncs the folder of a new file and the parent of every folder it made, and only its own folder after', async () => {
    const store = new WatchedStore(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-local-store-')));
    try {
      await store.put('events/dt=2026-12-01/hour=07/a.parquet', new Uint8Array([1, 2, 3]));
      assert.deepEqual(store.synced, ['events/dt=2026-12-01/hour=07', 'events/dt=2026-12-01', 'events', '.']);
      store.synced.length = 0;
      await store.put('events/dt=2026-12-01/hour=07/b.parquet', new Uint8Array([4]));
      assert.deepEqual(store.synced, ['events/dt=2026-12-01/hour=07'], 'no folder made: only the file entry');
      store.synced.length = 0;
      await store.put('events/dt=2026-12-01/hour=08/c.parquet', new Uint8Array([5]));
      assert.deepEqual(store.synced, ['events/dt=2026-12-01/hour=08', 'events/dt=2026-12-01'], 'one folder made: its parent');
      assert.deepEqual([...(await store.get('events/dt=2026-12-01/hour=07/a.parquet'))], [1, 2, 3]);
      assert.deepEqual(
        fs.readdirSync(path.join(store.location, 'events/dt=2026-12-01/hour=07')).sort(),
        ['a.parquet', 'b.parquet'],
        'no temporary file left',
      );
    } finally {
      fs.rmSync(store.location, { recursive: true, force: true });
    }
  });

  it('putIfAbsent stores a new object, and leaves an existing one as it was (false), many writers at once', async () => {
    const store = new LocalStore(fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-local-store-')));
    try {
      const key = 'events/_delta_log/00000000000000000007.json';
      const outcomes = await Promise.all([1, 2, 3, 4, 5].map((n) => store.putIfAbsent(key, new Uint8Array([n]))));
      assert.equal(outcomes.filter(Boolean).length, 1, 'one writer wins');
      const winner = outcomes.indexOf(true) + 1;
      assert.deepEqual([...(await store.get(key))], [winner], "the object is the winner's, whole");
      assert.equal(await store.putIfAbsent(key, new Uint8Array([9])), false);
      assert.deepEqual([...(await store.get(key))], [winner]);
      assert.deepEqual(
        fs.readdirSync(path.join(store.location, 'events/_delta_log')),
        ['00000000000000000007.json'],
        'no temporary file left',
      );
    } finally {
      fs.rmSync(store.location, { recursive: true, force: true });
    }
  });
});
