/**
 * Request bodies for tests that break a service part-way through one: a CSV body cut in pieces, and a
 * stream that sends those pieces one at a time, a pause between them, so that the service has committed
 * some files and is still reading when the test breaks it.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** `id,v` rows 0..total-1 in pieces of `perPiece` rows, the header in the first: joined, the whole body. */
export function csvPieces(total: number, perPiece: number): string[] {
  const pieces: string[] = [];
  for (let from = 0; from < total; from += perPiece) {
    const rows = Array.from({ length: Math.min(perPiece, total - from) }, (_, i) => `${from + i},r${from + i}\n`).join('');
    pieces.push(from === 0 ? `id,v\n${rows}` : rows);
  }
  return pieces;
}

/** The pieces as a request body, one every `intervalMs` (each pulled by the client first); `sent()` counts them. */
export function pacedBody(pieces: string[], intervalMs: number): { body: ReadableStream<Uint8Array>; sent(): number } {
  const encoder = new TextEncoder();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent > 0) await sleep(intervalMs);
      if (sent === pieces.length) {
        controller.close();
        return;
      }
      try {
        controller.enqueue(encoder.encode(pieces[sent]!));
        sent += 1;
      } catch {
        // The request is gone (its connection was cut) while this piece waited: nothing to send it to.
      }
    },
  });
  return { body, sent: () => sent };
}

/** The bytes as a chunked request body (no Content-Length) in pieces of `piece` bytes. */
export function chunkedBody(bytes: Uint8Array, piece = 7919): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + piece));
      offset += piece;
    },
  });
}
