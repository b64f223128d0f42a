/**
 * Reads a stream's Delta table as a Delta reader would: ClickHouse's own (chdb, ClickHouse embedded), in a
 * child process whose working folder is the lake (chdb reads local tables only under its working folder,
 * and a query holds its thread). `deltaLakeLocal('<stream>')` in the SQL names the table.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';

const chdb = createRequire(import.meta.url).resolve('chdb');
const run = promisify(execFile);

const SCRIPT = `
const { query } = require(process.argv[1]);
process.stdout.write(query(process.argv[2], 'JSONEachRow'));
`;

/** The rows of `sql` (64-bit integers as strings, as ClickHouse writes them in JSON). */
export async function queryDelta(lakeDir: string, sql: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(process.execPath, ['-e', SCRIPT, chdb, sql], { cwd: lakeDir, maxBuffer: 512 << 20 });
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
