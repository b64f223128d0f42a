/** The compact-protocol reader and writer: real Parquet footers survive a read and re-encode byte for byte. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import * as wasm from 'parquet-wasm';
import { encodeInteger, encodeList, encodeStruct, integerOf, ThriftReader, ThriftType, type ThriftField } from './thrift-compact';

/** Every struct in the bytes read and written back, recursively through lists. */
function reencodeStruct(bytes: Uint8Array): Uint8Array {
  const fields = new ThriftReader(bytes).struct();
  return encodeStruct(fields.map((field) => ({ ...field, value: reencodeValue(field.type, field.value) })));
}

function reencodeValue(type: ThriftType, value: Uint8Array): Uint8Array {
  if (type === ThriftType.Struct) return reencodeStruct(value);
  if (type === ThriftType.List) {
    const list = new ThriftReader(value).list();
    return encodeList(list.type, list.type === ThriftType.Struct ? list.items.map(reencodeStruct) : list.items);
  }
  return value;
}

describe('thrift compact protocol', () => {
  it('reads and re-encodes a Parquet footer (statistics, booleans, lists, metadata) byte for byte', () => {
    const table = tableFromArrays({
      n: Int32Array.from({ length: 1000 }, (_, i) => i - 500),
      s: Array.from({ length: 1000 }, (_, i) => (i % 3 ? `v${i % 17}` : null)),
      f: Float64Array.from({ length: 1000 }, (_, i) => i / 3),
    });
    const properties = new wasm.WriterPropertiesBuilder()
      .setStatisticsEnabled(wasm.EnabledStatistics.Page)
      .setMaxRowGroupSize(300) // four row groups: a list of structs of lists
      .setKeyValueMetadata(new Map([['k', 'v'.repeat(300)]]))
      .build();
    const file = wasm.writeParquet(wasm.Table.fromIPCStream(tableToIPC(table, 'stream')), properties);
    const footerLength = new DataView(file.buffer, file.byteOffset).getUint32(file.byteLength - 8, true);
    const footer = file.subarray(file.byteLength - 8 - footerLength, file.byteLength - 8);
    assert.deepEqual(reencodeStruct(footer), footer);
    const reader = new ThriftReader(footer);
    const fields = reader.struct();
    assert.equal(reader.position, footer.byteLength);
    assert.equal(integerOf(fields.find((f) => f.id === 3)!), 1000, 'num_rows');
    assert.equal(new ThriftReader(fields.find((f) => f.id === 4)!.value).list().items.length, 4, 'row groups');
  });

  it('writes long field-id jumps, booleans, negative and 53-bit integers and long lists that read back', () => {
    const items = Array.from({ length: 20 }, (_, i) => encodeInteger(i * 1000 - 7));
    const fields: ThriftField[] = [
      { id: 1, type: ThriftType.I32, value: encodeInteger(-1) },
      { id: 40, type: ThriftType.I64, value: encodeInteger(2 ** 53 - 1) },
      { id: 41, type: ThriftType.True, value: new Uint8Array() },
      { id: 42, type: ThriftType.False, value: new Uint8Array() },
      { id: 300, type: ThriftType.List, value: encodeList(ThriftType.I32, items) },
      { id: 301, type: ThriftType.Binary, value: Uint8Array.of(3, 0x61, 0x62, 0x63) },
    ];
    const bytes = encodeStruct(fields);
    // As the protocol spells them: field 1 by a delta (0x15 = delta 1, i32; -1 zigzagged is 1); field 40
    // in long form (type 0x06, then id 40 zigzagged: 0x50); a list of 20 i32 as 0xf5 then its size, 0x14.
    assert.deepEqual([...bytes.subarray(0, 4)], [0x15, 0x01, 0x06, 0x50]);
    const listAt = bytes.indexOf(0xf5);
    assert.ok(listAt > 0 && bytes[listAt + 1] === 0x14, 'long list header');
    const read = new ThriftReader(bytes).struct();
    assert.deepEqual(
      read.map((f) => [f.id, f.type]),
      fields.map((f) => [f.id, f.type]),
    );
    assert.equal(integerOf(read[0]!), -1);
    assert.equal(integerOf(read[1]!), 2 ** 53 - 1);
    const list = new ThriftReader(read[4]!.value).list();
    assert.deepEqual(
      list.items.map((item) => new ThriftReader(item).integer()),
      Array.from({ length: 20 }, (_, i) => i * 1000 - 7),
    );
    assert.deepEqual([...read[5]!.value], [3, 0x61, 0x62, 0x63]);
  });

  it('stops at the end of the data instead of reading past it', () => {
    const bytes = encodeStruct([{ id: 1, type: ThriftType.Binary, value: Uint8Array.of(10, 1, 2) }]);
    assert.throws(() => new ThriftReader(bytes).struct(), /end of data/);
  });
});
