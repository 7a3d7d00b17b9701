/**
 * Hand-written protobuf messages for wire-level tests: fields in the order
 * given (repeated, out of order or with unexpected wire types as a test needs).
 */
import protobuf from 'protobufjs';

/** One field: [field number, wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32), payload]. */
export type PbField = [number, number, Uint8Array | number | bigint];

/** The bytes of a message made of `fields`. */
export function pb(fields: PbField[]): Uint8Array {
  const w = protobuf.Writer.create();
  for (const [no, wire, v] of fields) {
    w.uint32((no << 3) | wire);
    if (wire === 0) w.uint64(typeof v === 'bigint' ? v.toString() : (v as number));
    else if (wire === 1) w.fixed64(typeof v === 'bigint' ? v.toString() : (v as number));
    else if (wire === 2) w.bytes(v as Uint8Array);
    else if (wire === 5) w.fixed32(v as number);
  }
  return w.finish();
}

/** UTF-8 bytes of a string field. */
export const utf8 = (x: string): Uint8Array => Buffer.from(x);
