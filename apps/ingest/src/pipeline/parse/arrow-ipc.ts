/**
 * Arrow IPC stream framing: cuts a byte stream, arriving in blocks of any size, into whole IPC messages
 * (prefix, flatbuffer `Message`, body), without holding more than the message being assembled. A message
 * that lies whole in a block is handed over as a view of it; one cut by a block boundary is assembled in a
 * buffer reused from message to message. Either is valid only while the callback runs.
 *
 * The stream format (https://arrow.apache.org/docs/format/Columnar.html#ipc-streaming-format): each
 * message is 0xFFFFFFFF, an int32 metadata length, the metadata (padded to 8 bytes), then `bodyLength`
 * body bytes; 0xFFFFFFFF 0x00000000 ends the stream. Writers before Arrow 0.15 leave out the 0xFFFFFFFF.
 */
import { Message } from 'apache-arrow';

const CONTINUATION = -1;
/** The largest assembly buffer kept for the next message. */
const SCRATCH_KEPT_BYTES = 16 * 1024 * 1024;

export class IpcFormatError extends Error {}

export interface IpcMessage {
  /** The whole framed message: prefix, metadata, body. */
  bytes: Uint8Array;
  message: Message;
}

export class IpcFramer {
  /** Bytes of a message whose size is not known yet (its prefix or metadata cut by a block boundary). */
  private head: Uint8Array = new Uint8Array(0);
  /** A message of known size being assembled, and how much of it has arrived. */
  private assembling: { bytes: Uint8Array; metadata: [from: number, to: number]; filled: number } | null = null;
  /** The end-of-stream marker was read. */
  ended = false;
  private scratch = new Uint8Array(0);

  constructor(private readonly maxMessageBytes: number) {}

  /** Calls `onMessage` for every message completed by `block`, in order. */
  push(block: Uint8Array, onMessage: (message: IpcMessage) => void): void {
    let at = 0;
    while (at < block.length) {
      if (this.ended) throw new IpcFormatError('bytes follow the end-of-stream marker');
      const assembling = this.assembling;
      if (assembling) {
        const take = Math.min(assembling.bytes.length - assembling.filled, block.length - at);
        assembling.bytes.set(block.subarray(at, at + take), assembling.filled);
        assembling.filled += take;
        at += take;
        if (assembling.filled < assembling.bytes.length) return;
        this.assembling = null;
        // Decoded again from the assembled bytes: a Message reads its header lazily, from the bytes it was
        // decoded from, and those lay in a block that has gone back to be filled again.
        const message = Message.decode(assembling.bytes.subarray(...assembling.metadata));
        onMessage({ bytes: assembling.bytes, message });
        continue;
      }
      let view = block.subarray(at);
      let held = 0;
      if (this.head.length > 0) {
        held = this.head.length;
        view = concat(this.head, view);
      }
      const framed = this.frame(view);
      if (framed === null) {
        this.head = view.slice();
        return;
      }
      this.head = new Uint8Array(0);
      if (framed.kind === 'end') {
        this.ended = true;
        at += framed.size - held;
        continue;
      }
      const { prefix, message } = framed;
      const size = prefix + Number(message.bodyLength);
      if (size <= view.length && held === 0) {
        onMessage({ bytes: view.subarray(0, size), message });
        at += size;
        continue;
      }
      // Cut by the block's end (or begun in an earlier one): assembled in the scratch buffer.
      const bytes = this.scratchOf(size);
      const have = Math.min(size, view.length);
      bytes.set(view.subarray(0, have));
      at += have - held;
      if (have === size) onMessage({ bytes, message });
      else this.assembling = { bytes, metadata: [framed.metadataFrom, prefix], filled: have };
    }
  }

  /**
   * Room for a message of `size` bytes, valid until the next message: one buffer reused from message to
   * message (a new one each time cost a fresh, zeroed allocation of each batch's size, and its collection).
   * A message larger than SCRATCH_KEPT_BYTES gets a buffer of its own, not kept.
   */
  private scratchOf(size: number): Uint8Array {
    if (size > SCRATCH_KEPT_BYTES) return new Uint8Array(size);
    if (this.scratch.length < size) this.scratch = new Uint8Array(Math.min(SCRATCH_KEPT_BYTES, Math.max(size, this.scratch.length * 2)));
    return this.scratch.subarray(0, size);
  }

  /** The stream has no more bytes: throws if a message was cut short. */
  end(): void {
    if (this.assembling || this.head.length > 0) throw new IpcFormatError('the stream ends inside a message');
  }

  /** The message starting at view[0]: its prefix length and decoded metadata, or the end marker; null when cut short. */
  private frame(
    view: Uint8Array,
  ): { kind: 'message'; prefix: number; metadataFrom: number; message: Message } | { kind: 'end'; size: number } | null {
    if (view.length < 4) return null;
    const data = new DataView(view.buffer, view.byteOffset, view.byteLength);
    let lengthAt = 0;
    if (data.getInt32(0, true) === CONTINUATION) {
      if (view.length < 8) return null;
      lengthAt = 4;
    }
    const metadataLength = data.getInt32(lengthAt, true);
    if (metadataLength === 0) return { kind: 'end', size: lengthAt + 4 };
    if (metadataLength < 0 || metadataLength > this.maxMessageBytes) {
      throw new IpcFormatError(`a message's metadata length is ${metadataLength} bytes: this is not an Arrow IPC stream`);
    }
    const prefix = lengthAt + 4 + metadataLength;
    if (view.length < prefix) return null;
    let message: Message;
    try {
      message = Message.decode(view.subarray(lengthAt + 4, prefix));
    } catch (error) {
      throw new IpcFormatError(`a message's metadata cannot be read (${(error as Error).message})`);
    }
    const size = prefix + Number(message.bodyLength);
    if (!(Number(message.bodyLength) >= 0) || size > this.maxMessageBytes) {
      throw new IpcFormatError(
        `a message of ${size} bytes is larger than the limit of ${this.maxMessageBytes} bytes (FLIGHT_MAX_MESSAGE_BYTES): split the batch`,
      );
    }
    return { kind: 'message', prefix, metadataFrom: lengthAt + 4, message };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/**
 * An Arrow Flight `FlightData` as an IPC stream message: the continuation marker, the metadata length
 * (padded to 8), `data_header` (a flatbuffer `Message`), padding, then `data_body`. One buffer of its own.
 */
export function framedMessage(dataHeader: Uint8Array, dataBody: Uint8Array): Uint8Array {
  const padded = (dataHeader.length + 7) & ~7;
  const bytes = new Uint8Array(8 + padded + dataBody.length);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, CONTINUATION, true);
  view.setInt32(4, padded, true);
  bytes.set(dataHeader, 8);
  bytes.set(dataBody, 8 + padded);
  return bytes;
}
