/**
 * The development database: PGlite (Postgres compiled to wasm) served over the Postgres wire protocol on a
 * local port, so the apps connect to it exactly as they would to a real server. It runs one query at a
 * time; real deployments set DATABASE_URL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  host?: string;
  maxConnections?: number;
}): Promise<EmbeddedPostgres> {
  const host = options.host ?? '127.0.0.1';
  fs.mkdirSync(options.dataDir, { recursive: true });
  // PGlite takes no lock of its own: two processes on one folder would corrupt it.
  const release = takeLock(`${path.resolve(options.dataDir)}.lock`);
  let db: PGlite | undefined;
  try {
    db = await PGlite.create(options.dataDir);
    const server = new PGLiteSocketServer({
      db,
      host,
      port: options.port,
      // The default of 1 refuses the second connection of any pool.
      maxConnections: options.maxConnections ?? 20,
    });
    await server.start();
    const opened = db;
    return {
      url: `postgresql://postgres:postgres@${host}:${options.port}/postgres?sslmode=disable`,
      async stop() {
        await server.stop();
        await opened.close();
        release();
      },
    };
  } catch (error) {
    await db?.close().catch(() => {});
    release();
    throw error;
  }
}

/** An exclusive lock file holding our PID; a lock left by a dead process is taken over. */
function takeLock(lockPath: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(lockPath, 'utf8'));
      if (holder && isAlive(holder)) {
        throw new Error(`The embedded database ${lockPath} is in use by process ${holder}.`);
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not lock ${lockPath}.`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
