/**
 * The libxl record codecs, as properties: decode(encode(record)) is the record and
 * encode(decode(body)) is the body, for every libxl record type in both byte orders; and
 * xenstore data's pairs survive encoding and parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LIBXL_REC_TYPE } from '../../src/format/constants.js';
import { decodeLibxlRecord, encodeLibxlRecordBody, LIBXL_MODULES, type LibxlRecord } from '../../src/format/libxl/table.js';
import { encodeXenstoreData, parseXenstoreData } from '../../src/format/libxl/xenstore-data.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const blob = fc.uint8Array({ minLength: 0, maxLength: 64 });

const anyLibxlRecord: fc.Arbitrary<LibxlRecord> = fc.oneof(
  fc.constantFrom(LIBXL_REC_TYPE.END, LIBXL_REC_TYPE.LIBXC_CONTEXT, LIBXL_REC_TYPE.CHECKPOINT_END).map((type) => ({ type }) as LibxlRecord),
  fc.record({
    type: fc.constantFrom(LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA, LIBXL_REC_TYPE.EMULATOR_CONTEXT),
    emulatorId: u32,
    index: u32,
    data: blob,
  }).map((r) => ({ ...r }) as LibxlRecord),
  fc.record({ type: fc.constant(LIBXL_REC_TYPE.CHECKPOINT_STATE), controlId: u32, rest: blob }).map((r) => ({ ...r }) as LibxlRecord),
);

test('property: decode(encode(record)) is the record, for every libxl record type and both byte orders', () => {
  const seen = new Set<number>();
  fc.assert(
    fc.property(anyLibxlRecord, fc.boolean(), (rec, le) => {
      seen.add(rec.type);
      const body = encodeLibxlRecordBody(rec, le);
      assert.deepEqual(decodeLibxlRecord(rec.type, body, le), rec);
    }),
    { numRuns: 500 },
  );
  assert.deepEqual([...seen].sort(), LIBXL_MODULES.map((m) => m.type).sort(), 'every module was tried');
});

test('property: encode(decode(body)) is the body, for any body the length rule takes', () => {
  fc.assert(
    fc.property(fc.constantFrom(...LIBXL_MODULES), fc.uint8Array({ minLength: 0, maxLength: 80 }), fc.boolean(), (m, bytes, le) => {
      // Every libxl rule is 'exact' (0 octets) or 'min' (a fixed head, then anything).
      assert.ok(m.length.kind === 'exact' || m.length.kind === 'min', m.name);
      const min = m.length.length;
      const body = m.length.kind === 'exact' ? new Uint8Array(min) : bytes.length >= min ? bytes : new Uint8Array(min);
      const rec = decodeLibxlRecord(m.type, body, le);
      assert.deepEqual(encodeLibxlRecordBody(rec, le), body);
    }),
    { numRuns: 500 },
  );
});

test('property: xenstore key/value pairs survive encodeXenstoreData and parseXenstoreData', () => {
  const key = fc.stringMatching(/^[A-Za-z0-9/_@-]{1,24}$/);
  const value = fc.string({ maxLength: 24 }).filter((v) => !v.includes('\0'));
  fc.assert(
    fc.property(fc.array(fc.tuple(key, value), { maxLength: 8 }), (pairs) => {
      assert.deepEqual(parseXenstoreData(encodeXenstoreData(pairs)), { pairs });
    }),
  );
});
