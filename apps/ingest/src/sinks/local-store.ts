/**
 * The local-folder object store: write to a temporary file, fsync, rename into place, fsync the folder,
 * so a file is either absent or complete even across a crash. A folder made for it (a new partition) is
 * an entry in its parent, fsynced too: otherwise a power cut could lose the folder, and the acknowledged
 * file in it.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ObjectStore, StoredObject } from './object-store';

export class LocalStore implements ObjectStore {
  readonly kind = 'local';
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get location(): string {
    return this.root;
  }

  private pathOf(key: string): string {
    const full = path.resolve(this.root, key);
    if (!full.startsWith(this.root + path.sep)) throw new Error(`object key escapes the lake: ${key}`);
    return full;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.place(key, body, (temp, target) => fs.rename(temp, target));
  }

  async putFile(key: string, file: string): Promise<void> {
    const copy = async (handle: fs.FileHandle) => {
      for await (const chunk of createReadStream(file)) await handle.write(chunk as Buffer);
    };
    await this.place(key, copy, (temp, target) => fs.rename(temp, target));
  }

  /** Links the written file into place, which fails when the target exists: nothing is replaced. */
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    try {
      await this.place(key, body, async (temp, target) => {
        try {
          await fs.link(temp, target);
        } finally {
          await fs.rm(temp, { force: true });
        }
      });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }

  /** Writes a temporary file beside the target, fsyncs it, moves it into place with `move`, fsyncs the folders. */
  private async place(
    key: string,
    body: Uint8Array | ((handle: fs.FileHandle) => Promise<void>),
    move: (temp: string, target: string) => Promise<void>,
  ): Promise<void> {
    const target = this.pathOf(key);
    const dir = path.dirname(target);
    const firstMade = await fs.mkdir(dir, { recursive: true });
    const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await fs.open(temp, 'wx');
    try {
      if (body instanceof Uint8Array) await handle.writeFile(body);
      else await body(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await move(temp, target);
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
    await this.syncFolder(dir);
    // The folders made above, from the deepest up: each one's entry lives in its parent.
    if (firstMade) {
      for (let made = dir; ; made = path.dirname(made)) {
        await this.syncFolder(path.dirname(made));
        if (made === path.resolve(firstMade)) break;
      }
    }
  }

  /** fsync of a folder: makes the entries in it (files renamed or folders made there) durable. */
  protected async syncFolder(dir: string): Promise<void> {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Uint8Array> {
    const file = this.pathOf(key);
    if (!range) return new Uint8Array(await fs.readFile(file));
    const handle = await fs.open(file, 'r');
    try {
      const buffer = Buffer.alloc(range.end - range.start);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, range.start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.pathOf(key), { force: true });
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await fs.stat(this.pathOf(key))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const found: StoredObject[] = [];
    const walk = async (dir: string) => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (!entry.name.startsWith('.')) {
          const key = path.relative(this.root, full).split(path.sep).join('/');
          if (key.startsWith(prefix)) found.push({ key, size: (await fs.stat(full)).size });
        }
      }
    };
    await walk(this.root);
    return found.sort((a, b) => a.key.localeCompare(b.key));
  }

  async check(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true });
    await fs.access(this.root, fs.constants.W_OK);
  }
}
