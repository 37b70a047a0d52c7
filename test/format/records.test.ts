/**
 * Record codecs: a unit test per record type against bytes spelled out by hand, and
 * property tests that decode(encode(x)) == x and encode(decode(bytes)) == bytes in both
 * byte orders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  REC_TYPE,
  RECORD_SPECS,
  StreamFormatError,
  decodeRecord,
  encodeRecordBody,
  decodePfnEntry,
  encodePfnEntry,
  isPfnRun,
  pfnArrayWords,
  type LibxcRecord,
} from '../../src/format/index.js';
import { Bytes, cpuidBody, hvmParamsBody, msrBody, pageDataBody, pvInfoBody, tscBody, vcpuBody } from '../support/builder.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const blob = (min = 0, max = 64): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: min, maxLength: max });

const pfnEntry = fc.record({
  pfn: fc.integer({ min: 0, max: 2 ** 52 - 1 }),
  pageType: fc.integer({ min: 0, max: 15 }),
  reservedBits: fc.integer({ min: 0, max: 255 }),
});

const pageData: fc.Arbitrary<LibxcRecord> = fc
  .record({ reserved: u32, entries: fc.array(pfnEntry, { minLength: 1, maxLength: 12 }) })
  .map(({ reserved, entries }) => {
    const withData = entries.filter((e) => e.pageType <= 4 || (e.pageType >= 9 && e.pageType <= 12)).length;
    const pages = new Uint8Array(withData * 4096).map((_, i) => (i * 7) & 0xff);
    return { type: REC_TYPE.PAGE_DATA, reserved, entries, pages };
  });

const vcpu = (type: 4 | 5 | 6 | 12): fc.Arbitrary<LibxcRecord> =>
  fc.record({ vcpuId: u32, reserved: u32, context: blob() }).map((r) => ({ type, ...r }));

/** Every known record type with its fields drawn at random (reserved fields too). */
const anyRecord: fc.Arbitrary<LibxcRecord> = fc.oneof(
  fc.constant({ type: REC_TYPE.END }),
  pageData,
  fc.record({ guestWidth: fc.integer({ min: 0, max: 255 }), ptLevels: fc.integer({ min: 0, max: 255 }), reserved1: fc.integer({ min: 0, max: 0xffff }), reserved2: u32 }).map((r) => ({ type: REC_TYPE.X86_PV_INFO, ...r })),
  fc.record({ startPfn: u32, endPfn: u32, p2mPfns: fc.array(u64, { minLength: 1, maxLength: 8 }) }).map((r) => ({ type: REC_TYPE.X86_PV_P2M_FRAMES, ...r })),
  vcpu(4),
  vcpu(5),
  vcpu(6),
  vcpu(12),
  blob(4096, 4096).map((data) => ({ type: REC_TYPE.SHARED_INFO, data })),
  fc.record({ mode: u32, khz: u32, nsec: u64, incarnation: u32, reserved: u32 }).map((r) => ({ type: REC_TYPE.X86_TSC_INFO, ...r })),
  blob(1).map((data) => ({ type: REC_TYPE.HVM_CONTEXT, data })),
  fc.record({ reserved: u32, params: fc.array(fc.record({ index: u64, value: u64 }), { maxLength: 8 }) }).map((r) => ({ type: REC_TYPE.HVM_PARAMS, ...r })),
  blob().map((data) => ({ type: REC_TYPE.TOOLSTACK, data })),
  fc.constant({ type: REC_TYPE.VERIFY }),
  fc.constant({ type: REC_TYPE.CHECKPOINT }),
  fc.array(u64, { maxLength: 8 }).map((pfns) => ({ type: REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST, pfns })),
  fc.constant({ type: REC_TYPE.STATIC_DATA_END }),
  fc.array(fc.record({ leaf: u32, subleaf: u32, eax: u32, ebx: u32, ecx: u32, edx: u32 }), { minLength: 1, maxLength: 6 }).map((entries) => ({ type: REC_TYPE.X86_CPUID_POLICY, entries })),
  fc.array(fc.record({ index: u32, flags: u32, value: u64 }), { minLength: 1, maxLength: 6 }).map((entries) => ({ type: REC_TYPE.X86_MSR_POLICY, entries })),
  fc.record({ type: u32.filter((t) => !RECORD_SPECS.has(t)), body: blob() }).map((r) => ({ ...r, unknown: true as const })),
);

test('property: decode(encode(record)) is the record, for every record type and both byte orders', () => {
  fc.assert(
    fc.property(anyRecord, fc.boolean(), (rec, le) => {
      const body = encodeRecordBody(rec, le);
      const back = decodeRecord(rec.type, body, le);
      // structuredClone: fast-check's records have a null prototype, decoded ones do not.
      assert.deepEqual(back, structuredClone(rec));
      assert.deepEqual(encodeRecordBody(back, le), body);
    }),
    { numRuns: 600 },
  );
});

test('property: pfn entries keep type, reserved bits and the 52-bit pfn', () => {
  fc.assert(
    fc.property(pfnEntry, (e) => {
      const { hi, lo } = encodePfnEntry(e);
      assert.deepEqual(decodePfnEntry(hi, lo), structuredClone(e));
    }),
  );
});

test('PAGE_DATA decodes the bytes a test spells out, in both byte orders', () => {
  for (const le of [true, false]) {
    const body = pageDataBody([{ pfn: 0x12345, type: 0 }, { pfn: 2 ** 40 + 3, type: 14 }, { pfn: 9, type: 9 }], le);
    const rec = decodeRecord(REC_TYPE.PAGE_DATA, body, le);
    assert.ok(rec.type === REC_TYPE.PAGE_DATA && !('unknown' in rec));
    assert.deepEqual(rec.entries, [
      { pfn: 0x12345, pageType: 0, reservedBits: 0 },
      { pfn: 2 ** 40 + 3, pageType: 14, reservedBits: 0 },
      { pfn: 9, pageType: 9, reservedBits: 0 },
    ]);
    assert.equal(rec.pages.length, 2 * 4096);
    assert.deepEqual(encodeRecordBody(rec, le), body);
  }
  assert.throws(() => decodeRecord(REC_TYPE.PAGE_DATA, pageDataBody([{ pfn: 1 }]).subarray(0, 100), true), StreamFormatError);
});

test('each fixed-layout record decodes its hand-spelled bytes', () => {
  assert.deepEqual(decodeRecord(REC_TYPE.X86_PV_INFO, pvInfoBody(4, 3), true), { type: 2, guestWidth: 4, ptLevels: 3, reserved1: 0, reserved2: 0 });
  assert.deepEqual(decodeRecord(REC_TYPE.X86_PV_P2M_FRAMES, new Bytes().u32(0).u32(511).u64(0x1234n).build(), true), { type: 3, startPfn: 0, endPfn: 511, p2mPfns: [0x1234n] });
  const v = decodeRecord(REC_TYPE.X86_PV_VCPU_BASIC, vcpuBody(3, 4, false), false);
  assert.deepEqual(v, { type: 4, vcpuId: 3, reserved: 0, context: new Uint8Array([3, 10, 17, 24]) });
  assert.deepEqual(decodeRecord(REC_TYPE.X86_TSC_INFO, tscBody(), true), { type: 8, mode: 0, khz: 2_000_000, nsec: 123456789n, incarnation: 1, reserved: 0 });
  assert.deepEqual(decodeRecord(REC_TYPE.HVM_PARAMS, hvmParamsBody([[2n, 5n]], false), false), { type: 10, reserved: 0, params: [{ index: 2n, value: 5n }] });
  assert.deepEqual(decodeRecord(REC_TYPE.X86_CPUID_POLICY, cpuidBody([[7, 0, 1, 2, 3, 4]]), true), { type: 17, entries: [{ leaf: 7, subleaf: 0, eax: 1, ebx: 2, ecx: 3, edx: 4 }] });
  assert.deepEqual(decodeRecord(REC_TYPE.X86_MSR_POLICY, msrBody([[0x10a, 0, 2n ** 63n]], false), false), { type: 18, entries: [{ index: 0x10a, flags: 0, value: 2n ** 63n }] });
  assert.deepEqual(decodeRecord(REC_TYPE.CHECKPOINT_DIRTY_PFN_LIST, new Bytes().u64(5n).build(), true), { type: 15, pfns: [5n] });
  for (const t of [REC_TYPE.END, REC_TYPE.VERIFY, REC_TYPE.CHECKPOINT, REC_TYPE.STATIC_DATA_END]) assert.deepEqual(decodeRecord(t, new Uint8Array(0), true), { type: t });
  assert.deepEqual(decodeRecord(0x80000020, new Uint8Array([1]), true), { type: 0x80000020, unknown: true, body: new Uint8Array([1]) });
});

test('bodies that break their length rule are refused with the record name', () => {
  const cases: [number, number, RegExp][] = [
    [REC_TYPE.END, 1, /END: body length 1, expected exactly 0/],
    [REC_TYPE.X86_PV_INFO, 7, /X86_PV_INFO: body length 7, expected exactly 8/],
    [REC_TYPE.X86_TSC_INFO, 16, /expected exactly 24/],
    [REC_TYPE.SHARED_INFO, 4095, /expected exactly 4096/],
    [REC_TYPE.HVM_CONTEXT, 0, /expected at least 1/],
    [REC_TYPE.HVM_PARAMS, 12, /expected 8 \+ a multiple of 16/],
    [REC_TYPE.X86_CPUID_POLICY, 0, /expected at least 24/],
    [REC_TYPE.X86_MSR_POLICY, 20, /expected a multiple of 16/],
    [REC_TYPE.X86_PV_VCPU_XSAVE, 4, /expected at least 8/],
  ];
  for (const [type, length, re] of cases) assert.throws(() => decodeRecord(type, new Uint8Array(length), true), re);
});

test('pfnArrayWords gives entry i as words 2i (low) and 2i+1 (high) in both byte orders, aligned or not', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ hi: fc.nat(0xffffffff), lo: fc.nat(0xffffffff) }), { maxLength: 40 }),
      fc.boolean(),
      fc.nat(7),
      (entries, le, shift) => {
        const bytes = new Uint8Array(shift + 8 + 8 * entries.length);
        const body = bytes.subarray(shift);
        const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
        entries.forEach((e, i) => {
          view.setUint32(8 + 8 * i + (le ? 4 : 0), e.hi, le);
          view.setUint32(8 + 8 * i + (le ? 0 : 4), e.lo, le);
        });
        const words = pfnArrayWords(body, entries.length, le);
        assert.deepEqual(
          entries.map((_, i) => [words[2 * i + 1], words[2 * i]]),
          entries.map((e) => [e.hi, e.lo]),
        );
      },
    ),
  );
});

test('isPfnRun: one high word and low words ascending by one, nothing else', () => {
  const run = (hi: number, lo: number, n: number): Uint32Array => Uint32Array.from({ length: 2 * n }, (_, k) => (k % 2 ? hi : lo + k / 2));
  assert.equal(isPfnRun(run(0x10000000, 5, 1024), 1024), true);
  assert.equal(isPfnRun(run(0, 0xfffffc00, 1024), 1024), true);
  assert.equal(isPfnRun(run(0, 0xfffffc01, 1024), 1024), false, 'the low word would wrap past 2^32');
  assert.equal(isPfnRun(new Uint32Array(0), 0), false);
  const gap = run(0, 5, 8);
  gap[2 * 7] = 13;
  assert.equal(isPfnRun(gap, 8), false);
  const mixedType = run(0x10000000, 5, 8);
  mixedType[2 * 3 + 1] = 0x20000000;
  assert.equal(isPfnRun(mixedType, 8), false);
  fc.assert(
    fc.property(fc.array(fc.nat(0xffffffff), { minLength: 2, maxLength: 64 }), (ws) => {
      const n = ws.length >> 1;
      const words = Uint32Array.from(ws.slice(0, 2 * n));
      let expected = n > 0;
      for (let i = 1; i < n; i++) if (words[2 * i + 1] !== words[1] || words[2 * i] !== words[0]! + i) expected = false;
      assert.equal(isPfnRun(words, n), expected);
    }),
  );
});
