#!/usr/bin/env node
// Sends an Arrow IPC stream file (as pyarrow, Polars or DuckDB write it) to Sluice over HTTP, record
// batch by record batch: apache-arrow reads the file as it arrives from disk and writes each batch into
// the request body, so the file is never held whole. Fields are matched to the stream's columns by name.
// The Idempotency-Key is the SHA-256 of the file's absolute path and content: a retry, or running the
// script again after it was cut off, never stores a row twice. Retries 408, 409, 429, 503 and connection
// errors with exponential backoff (at least the Retry-After the service asks for).
//   SLUICE_URL=http://127.0.0.1:8080 SLUICE_KEY=slk_... node examples/node/arrow-http.mjs <stream> <file.arrows>
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { RecordBatchReader, RecordBatchStreamWriter } from 'apache-arrow';

const [stream, file] = process.argv.slice(2);
const url = process.env.SLUICE_URL ?? 'http://127.0.0.1:8080';
const attempts = 8;

const hash = createHash('sha256').update(`${path.resolve(file)}\0`);
for await (const chunk of createReadStream(file)) hash.update(chunk);
const idempotencyKey = hash.digest('hex');

/** The file's record batches, written again as an Arrow IPC stream as they are read. */
function arrowBody() {
  const batches = createReadStream(file).pipe(RecordBatchReader.throughNode());
  return Readable.toWeb(batches.pipe(RecordBatchStreamWriter.throughNode()));
}

for (let attempt = 1; ; attempt++) {
  let problem;
  let retryAfter = 0;
  try {
    const response = await fetch(`${url}/v1/streams/${stream}/rows`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${process.env.SLUICE_KEY}`,
        'content-type': 'application/vnd.apache.arrow.stream',
        'idempotency-key': idempotencyKey,
      },
      // A new read of the same file each attempt: the same body under the same key.
      body: arrowBody(),
      duplex: 'half',
    });
    const body = await response.json();
    if (response.ok) {
      console.log(JSON.stringify(body));
      break;
    }
    if (![408, 409, 429, 503].includes(response.status)) {
      console.error(JSON.stringify(body));
      process.exit(1);
    }
    problem = `HTTP ${response.status}`;
    retryAfter = Number(response.headers.get('retry-after')) || 0;
  } catch (error) {
    // fetch rejects with a TypeError when the connection is refused or cut off before the answer.
    if (!(error instanceof TypeError)) throw error;
    problem = error.cause?.code ?? error.message;
  }
  if (attempt === attempts) {
    console.error(`gave up after ${attempts} attempts: ${problem}`);
    process.exit(1);
  }
  const backoff = Math.min(2 ** (attempt - 1), 30);
  const delay = Math.max(retryAfter, backoff * (1 + Math.random()));
  console.error(`attempt ${attempt}: ${problem}, retrying in ${delay.toFixed(1)}s`);
  await sleep(delay * 1000);
}
