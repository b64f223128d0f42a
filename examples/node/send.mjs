#!/usr/bin/env node
// Streams a CSV or NDJSON file to Sluice with fetch: the body is a stream read from disk as it is sent.
//   SLUICE_URL=http://127.0.0.1:8080 SLUICE_KEY=slk_... node examples/node/send.mjs <stream> <file>
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

const [stream, file] = process.argv.slice(2);
const url = process.env.SLUICE_URL ?? 'http://127.0.0.1:8080';
const contentType = /\.(ndjson|jsonl)$/.test(file) ? 'application/x-ndjson' : 'text/csv';

for (let attempt = 1; ; attempt++) {
  const response = await fetch(`${url}/v1/streams/${stream}/rows`, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.SLUICE_KEY}`, 'content-type': contentType },
    body: Readable.toWeb(createReadStream(file, { highWaterMark: 1 << 20 })),
    duplex: 'half',
  });
  const body = await response.json();
  // 429 (busy) and 503 are safe to retry: nothing of the request was acknowledged.
  if ((response.status === 429 || response.status === 503) && attempt < 5) {
    await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('retry-after') ?? 1) * 1000));
    continue;
  }
  if (!response.ok) {
    console.error(JSON.stringify(body));
    process.exit(1);
  }
  console.log(JSON.stringify(body));
  break;
}
