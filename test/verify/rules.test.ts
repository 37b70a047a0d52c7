/**
 * One stream per rule: each breaks exactly one rule and must draw exactly the expected
 * diagnostics. The last test checks every documented code was drawn by some stream.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Bytes, T, concat, hvmContextBody, hvmParamsBody, libxcHeaders, libxlWrap, pageDataBody, pvInfoBody, rec, sampleHvmV3, tscBody, vcpuBody, xlWrap } from '../support/builder.js';
import { createVerifier, DIAGNOSTIC_CODES, type VerifyResult, type VerifyStreamOptions } from '../../src/verify/index.js';
import { L, assemble, checkpointedParts, emulatorBody, xl, type Part } from '../support/checkpointed.js';
import { codes, hvmRecords, libxcBytes, p2mBody, problems, pvRecords, r, verifyBytes, type Rec } from './streams.js';
import { bigConfigStream, xenstoreStream } from '../support/hostile.js';
import { legacyFindingStreams } from '../support/legacy-writer.js';

const seen = new Set<string>();

async function check(bytes: Uint8Array, opts: VerifyStreamOptions = {}): Promise<VerifyResult> {
  const res = await verifyBytes(bytes, opts);
  for (const d of res.diagnostics) seen.add(d.code);
  return res;
}

/** Runs and asserts the exact list of "severity code" (infos included when `withInfo`). */
async function expectCodes(bytes: Uint8Array, expected: string[], opts: VerifyStreamOptions & { withInfo?: boolean } = {}): Promise<VerifyResult> {
  const res = await check(bytes, opts);
  assert.deepEqual(opts.withInfo ? codes(res) : problems(res), expected);
  assert.equal(res.conforming, !expected.some((e) => e.startsWith('error')));
  return res;
}

function patch(bytes: Uint8Array, at: number, values: number[]): Uint8Array {
  const out = bytes.slice();
  out.set(values, at);
  return out;
}

function withRecord(records: Rec[], at: number, ...insert: Rec[]): Rec[] {
  return [...records.slice(0, at), ...insert, ...records.slice(at)];
}

function replaceType(records: Rec[], type: number, by: Rec): Rec[] {
  return records.map((x) => (x.type === type ? by : x));
}

function without(records: Rec[], type: number): Rec[] {
  return records.filter((x) => x.type !== type);
}

// ---- conforming streams --------------------------------------------------------------------

test('conforming streams: v3 and v2, HVM and PV, both byte orders, all layers', async () => {
  await expectCodes(libxcBytes(hvmRecords(3)), []);
  await expectCodes(libxcBytes(pvRecords(3), { domainType: 1 }), []);
  await expectCodes(libxcBytes(hvmRecords(3, false), { bigEndian: true }), []);
  await expectCodes(libxcBytes(pvRecords(2, false), { domainType: 1, version: 2, bigEndian: true }), []);
  await expectCodes(xlWrap(libxlWrap(sampleHvmV3({ pages: 3 }))), []);
  await expectCodes(libxlWrap(sampleHvmV3({ bigEndian: true }), { bigEndian: true }), []);
});

// ---- framing ------------------------------------------------------------------------------

test('framing errors become diagnostics with their codes and places', async () => {
  await expectCodes(new Uint8Array(0), ['error empty-input']);
  const legacy = await expectCodes(new Uint8Array(64).fill(1), ['error legacy-image']);
  assert.match(legacy.diagnostics[0]!.message, /legacy \(pre-v2, Xen <= 4\.5\)/);
  await expectCodes(xlWrap(libxlWrap(sampleHvmV3()), '{}', 1), ['error xl-legacy-stream']);
  const whole = sampleHvmV3({ pages: 2 });
  const cut = await expectCodes(whole.subarray(0, whole.length - 20), ['error truncated']);
  assert.deepEqual(cut.diagnostics[0]!.location, { offset: whole.length - 8 - 48, layer: 'libxc', recordIndex: 6, recordType: 'HVM_PARAMS' });
  const long = concat(libxcHeaders({}), new Bytes().u32(T.HVM_CONTEXT).u32(0x08000001).build());
  const tooLong = await expectCodes(long, ['error record-too-long']);
  assert.equal(tooLong.diagnostics[0]!.location.offset, 40);
  const badId = await expectCodes(patch(sampleHvmV3(), 8, [0x58, 0x45, 0x4e, 0x47]), ['error bad-framing']);
  assert.equal(badId.diagnostics[0]!.message, 'libxc image header: id 0x58454e47, expected 0x58454e46 ("XENF")');
  const trailing = await expectCodes(concat(sampleHvmV3(), new Uint8Array([1, 2, 3])), ['error trailing-data']);
  assert.deepEqual(trailing.diagnostics[0]!.location, { offset: sampleHvmV3().length });
});

test('padding must be zero', async () => {
  const recs = replaceType(hvmRecords(), T.HVM_CONTEXT, { type: T.HVM_CONTEXT, body: concat(hvmContextBody(), new Uint8Array(1)), padByte: 0x5a });
  const res = await expectCodes(libxcBytes(recs), ['error padding-nonzero']);
  assert.equal(res.diagnostics[0]!.message, 'padding octet 0 of 7 is 0x5a, expected zero');
  assert.equal(res.diagnostics[0]!.location.recordType, 'HVM_CONTEXT');
});

test('push API: finish() names a stream that stopped before END; staticDataEnd is exposed', () => {
  const v = createVerifier();
  const bytes = libxcBytes(hvmRecords());
  const view = new DataView(bytes.buffer);
  assert.deepEqual(
    v.push({
      kind: 'libxc-header',
      offset: 0,
      end: 40,
      littleEndian: true,
      image: { marker: 0xffffffffffffffffn, id: 0x58454e46, version: 3, options: 0, reserved1: 0, reserved2: 0 },
      domain: { type: 2, pageShift: 12, reserved: 0, xenMajor: 4, xenMinor: 19 },
    }),
    [],
  );
  const sde = { kind: 'record', layer: 'libxc', offset: 40, end: 48, index: 0, type: T.STATIC_DATA_END, typeName: 'STATIC_DATA_END', length: 0, littleEndian: true, body: new Uint8Array(0), bodyComplete: true, padding: new Uint8Array(0) } as const;
  assert.deepEqual(v.push(sde), []);
  assert.deepEqual(v.staticDataEnd?.offset, 40);
  assert.equal(v.staticDataEnd?.inferred, false);
  const fin = v.finish();
  for (const d of fin) seen.add(d.code);
  assert.deepEqual(fin, [{ severity: 'error', code: 'missing-end', message: 'the libxc stream stopped before its END record', location: { layer: 'libxc' } }]);
  assert.ok(view.byteLength > 0);
});

test('push API: the offending record is reported by its own push, before the next item', () => {
  const v = createVerifier();
  v.push({ kind: 'libxc-header', offset: 0, end: 40, littleEndian: true, image: { marker: 0xffffffffffffffffn, id: 0x58454e46, version: 3, options: 0, reserved1: 0, reserved2: 0 }, domain: { type: 2, pageShift: 12, reserved: 0, xenMajor: 4, xenMinor: 19 } });
  const body = pageDataBody([{ pfn: 1 }]);
  const out = v.push({ kind: 'record', layer: 'libxc', offset: 40, end: 48 + body.length, index: 0, type: T.PAGE_DATA, typeName: 'PAGE_DATA', length: body.length, littleEndian: true, body: body.subarray(0, 16), bodyComplete: false, padding: new Uint8Array(0) });
  assert.deepEqual(out.map((d) => d.code), ['dynamic-before-static-data-end']);
  assert.deepEqual(out[0]!.location, { offset: 40, layer: 'libxc', recordIndex: 0, recordType: 'PAGE_DATA' });
  assert.equal(out[0]!.message, 'PAGE_DATA before STATIC_DATA_END; a v3 stream sends its static data first');
});

// ---- xl header ---------------------------------------------------------------------------

function xlHeader(opts: { le?: boolean; mandatory?: number; optional?: number; optionalData?: Uint8Array }): Uint8Array {
  const le = opts.le ?? true;
  const magic = new TextEncoder().encode('Xen saved domain, xl format\n \0 \r');
  const data = opts.optionalData ?? new Uint8Array(0);
  return new Bytes(le).raw(magic).u32(0x01020304).u32(opts.mandatory ?? 3).u32(opts.optional ?? 0).u32(data.length).raw(data).build();
}

function configData(text: string, le = true): Uint8Array {
  const cfg = new TextEncoder().encode(text + '\0');
  return new Bytes(le).u32(cfg.length).raw(cfg).build();
}

test('xl header rules', async () => {
  const inner = libxlWrap(sampleHvmV3());
  await expectCodes(concat(xlHeader({ mandatory: 7, optionalData: configData('{}') }), inner), ['error xl-mandatory-flags-unknown']);
  await expectCodes(concat(xlHeader({ optional: 1, optionalData: configData('{}') }), inner), ['info xl-optional-flags-unknown'], { withInfo: true });
  await expectCodes(concat(xlHeader({ le: false, optionalData: configData('{}', false) }), inner), ['info xl-big-endian'], { withInfo: true });
  await expectCodes(concat(xlHeader({}), inner), ['warning xl-config-missing']);
  const notJson = await expectCodes(concat(xlHeader({ optionalData: configData('name = "x"') }), inner), ['error xl-config-not-json']);
  assert.match(notJson.diagnostics[0]!.message, /^the JSON flag is set but the config does not parse: /);
  await expectCodes(concat(xlHeader({ mandatory: 2, optionalData: configData('name = "x"') }), inner), []);
  await expectCodes(concat(xlHeader({ optionalData: new Uint8Array([1, 0]) }), inner), ['error xl-config-layout']);
});

// ---- libxl layer ---------------------------------------------------------------------------

function libxlHeader(version = 2, options = 0): Uint8Array {
  return new Bytes(false).raw(new TextEncoder().encode('LibxlFmt')).u32(version).u32(options).build();
}

function emu(type: number, id: number, data: Uint8Array): Uint8Array {
  return rec(type, new Bytes().u32(id).u32(0).raw(data).build());
}

test('libxl header and record rules', async () => {
  const libxc = sampleHvmV3();
  const body = (...recs: Uint8Array[]): Uint8Array => concat(rec(1), libxc, ...recs, rec(0));
  await expectCodes(concat(libxlHeader(3), body()), ['error libxl-version']);
  await expectCodes(concat(libxlHeader(2, 4), body()), ['error libxl-options-reserved']);
  await expectCodes(concat(libxlHeader(2, 2), body()), ['info libxl-converted-legacy'], { withInfo: true });
  const noCtx = await expectCodes(concat(libxlHeader(), rec(0)), ['error libxl-no-libxc-context']);
  assert.deepEqual(noCtx.diagnostics[0]!.location, { offset: 16, layer: 'libxl', recordIndex: 0, recordType: 'END' });
  await expectCodes(concat(libxlHeader(), rec(1), libxc, rec(1), libxc, rec(0)), ['error libxl-libxc-context-repeated']);
  await expectCodes(concat(libxlHeader(), body(emu(3, 3, new Uint8Array(4)))), ['error emulator-id-invalid']);
  const enc = new TextEncoder();
  await expectCodes(concat(libxlHeader(), body(emu(2, 2, enc.encode('a\0b\0')))), []);
  const xs = await expectCodes(concat(libxlHeader(), body(emu(2, 2, enc.encode('a\0b\0c\0')))), ['error xenstore-malformed']);
  assert.equal(xs.diagnostics[0]!.message, 'xenstore data holds 3 strings, expected key/value pairs');
  await expectCodes(concat(libxlHeader(), body(emu(2, 1, enc.encode('a\0b')))), ['error xenstore-malformed']);
  const key = await expectCodes(concat(libxlHeader(), body(emu(2, 1, enc.encode('ok/key_1-@\0v\0bad key\0v\0')))), ['error xenstore-malformed']);
  assert.equal(key.diagnostics[0]!.message, 'xenstore key #1 "bad key" has characters outside alphanumeric ASCII and -/_@');
  await expectCodes(concat(libxlHeader(), body(rec(4))), ['error checkpoint-not-allowed']);
  // Checkpointed, but not where libxl puts them: after the libxc END (see the checkpointed tests below).
  await expectCodes(concat(libxlHeader(), body(rec(4), rec(5, new Bytes().u32(0).build()))), ['error checkpoint-end-misplaced', 'error checkpoint-state-misplaced'], { checkpointed: true });
  await expectCodes(concat(libxlHeader(), body(rec(5, new Bytes().u32(7).build()))), ['error checkpoint-state-invalid', 'error checkpoint-state-misplaced'], { checkpointed: true });
  await expectCodes(concat(libxlHeader(), body(rec(9, new Uint8Array(3)))), ['error unknown-mandatory-record']);
  await expectCodes(concat(libxlHeader(), body(rec(0x80000009, new Uint8Array(3)))), ['warning unknown-optional-record']);
  await expectCodes(libxlWrap(sampleHvmV3({ bigEndian: true })), ['warning endianness-mismatch']);
});

test('libxl records with a body where none belongs', async () => {
  await expectCodes(concat(libxlHeader(), rec(1), sampleHvmV3(), rec(0, new Uint8Array(2))), ['error length-invalid']);
});

// ---- libxc headers ---------------------------------------------------------------------------

test('libxc header rules', async () => {
  const recs = hvmRecords();
  await expectCodes(libxcBytes(recs, { version: 4 }), ['error libxc-version']);
  await expectCodes(patch(libxcBytes(recs), 16, [0, 2]), ['error libxc-options-reserved']);
  const res = await expectCodes(patch(libxcBytes(recs), 18, [0, 1]), ['error libxc-header-reserved']);
  assert.equal(res.diagnostics[0]!.message, 'image header reserved fields 0x0001:0x00000000, expected zero');
  assert.deepEqual(res.diagnostics[0]!.location, { offset: 0, layer: 'libxc', recordType: 'image header' });
  await expectCodes(libxcBytes(recs, { domainType: 7 }), ['error domain-type-reserved']);
  const pvh = await expectCodes(libxcBytes(recs, { domainType: 3 }), ['error domain-type-unsupported']);
  assert.equal(pvh.diagnostics[0]!.message, 'domain type 3 (x86 PVH) is not written by libxc; expected 1 (x86 PV) or 2 (x86 HVM)');
  await expectCodes(libxcBytes(recs, { pageShift: 13 }), ['error page-shift']);
  await expectCodes(patch(libxcBytes(recs), 30, [0, 9]), ['error domain-header-reserved']);
  const legacy = await expectCodes(libxcBytes(recs, { xenMajor: 0, xenMinor: 7 }), ['info converted-from-legacy'], { withInfo: true });
  assert.equal(legacy.summary.libxc?.convertedFromLegacy, true);
});

// ---- record bodies -------------------------------------------------------------------------

test('length rules per record type', async () => {
  const res = await expectCodes(libxcBytes(replaceType(hvmRecords(), T.X86_TSC_INFO, r(T.X86_TSC_INFO, new Uint8Array(20)))), ['error length-invalid']);
  assert.equal(res.diagnostics[0]!.message, 'X86_TSC_INFO body length 20, expected exactly 24');
  assert.equal(res.diagnostics[0]!.location.recordIndex, 4);
  await expectCodes(libxcBytes(replaceType(hvmRecords(), T.STATIC_DATA_END, r(T.STATIC_DATA_END, new Uint8Array(1)))), ['error length-invalid']);
  await expectCodes(libxcBytes(replaceType(hvmRecords(), T.X86_CPUID_POLICY, r(T.X86_CPUID_POLICY, new Uint8Array(25)))), ['error length-invalid']);
  await expectCodes(libxcBytes(replaceType(hvmRecords(), T.HVM_CONTEXT, r(T.HVM_CONTEXT))), ['error length-invalid']);
  await expectCodes(libxcBytes(replaceType(pvRecords(), T.SHARED_INFO, r(T.SHARED_INFO, new Uint8Array(4095))), { domainType: 1 }), ['error length-invalid']);
});

test('PAGE_DATA rules: count, reserved, pfn reserved bits, page types 5-8, exact length', async () => {
  const page = (body: Uint8Array): Uint8Array => libxcBytes(replaceType(hvmRecords(), T.PAGE_DATA, r(T.PAGE_DATA, body)));
  await expectCodes(page(new Bytes().u32(0).u32(0).u64(0n).build()), ['error page-data-count-zero', 'error page-data-length']);
  const reserved = pageDataBody([{ pfn: 4 }]);
  new DataView(reserved.buffer).setUint32(4, 9, true);
  await expectCodes(page(reserved), ['error reserved-nonzero']);
  const bits = await expectCodes(page(pageDataBody([{ pfn: 1 }, { pfn: 5, reservedBits: 0x81 }])), ['error pfn-reserved-bits']);
  assert.equal(bits.diagnostics[0]!.message, 'pfn[1] 0x0810000000000005 has reserved bits 59-52 set, expected zero');
  const types = await expectCodes(page(pageDataBody([{ pfn: 1, type: 6 }])), ['error page-type-reserved']);
  assert.equal(types.diagnostics[0]!.message, 'pfn[0] 0x6000000000000001 has page type 6; types 5-8 are reserved');
  const short = await expectCodes(page(pageDataBody([{ pfn: 1 }, { pfn: 2 }]).subarray(0, 24 + 4096)), ['error page-data-length']);
  assert.equal(short.diagnostics[0]!.message, 'PAGE_DATA body length 4120, expected 8 + 8*2 + 4096*2 (pages with data) = 8216');
  await expectCodes(page(new Bytes().u32(5).u32(0).u64(0n).build()), ['error page-data-length']);
  // Types without data (BROKEN, XALLOC, XTAB) carry no page; pinned tables do.
  await expectCodes(page(pageDataBody([{ pfn: 1, type: 13 }, { pfn: 2, type: 14 }, { pfn: 3, type: 15 }])), []);
});

test('PAGE_DATA length rule is also checked when page contents are skipped (file fast path)', async () => {
  const recs = replaceType(hvmRecords(), T.PAGE_DATA, r(T.PAGE_DATA, pageDataBody([{ pfn: 1 }, { pfn: 2 }]).subarray(0, 24 + 4096)));
  const { verifyStream } = await import('../../src/verify/index.js');
  const { ByteReader } = await import('../../src/io/byte-reader.js');
  const { BufferRawSource } = await import('../../src/io/raw-source.js');
  const res = await verifyStream(new ByteReader(new BufferRawSource(libxcBytes(recs)), 64 * 1024));
  assert.deepEqual(problems(res), ['error page-data-length']);
});

test('PV body rules: X86_PV_INFO, P2M frames, vcpu records', async () => {
  const pv = (recs: Rec[], version: 2 | 3 = 3): Uint8Array => libxcBytes(recs, { domainType: 1, version });
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_INFO, r(T.X86_PV_INFO, pvInfoBody(5, 4)))), ['error pv-info-width']);
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_INFO, r(T.X86_PV_INFO, pvInfoBody(4, 2)))), ['error pv-info-levels']);
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_INFO, r(T.X86_PV_INFO, new Bytes().u8(8).u8(4).u16(1).u32(0).build()))), ['error reserved-nonzero']);
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_P2M_FRAMES, r(T.X86_PV_P2M_FRAMES, p2mBody(5, 3, [1n])))), ['error p2m-frames-range']);
  const count = await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_P2M_FRAMES, r(T.X86_PV_P2M_FRAMES, p2mBody(0, 600, [1n])))), ['error p2m-frames-count']);
  assert.equal(count.diagnostics[0]!.message, 'pfns 0-600 span 2 p2m frame(s) of 512 entries, the record holds 1');
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_P2M_FRAMES, r(T.X86_PV_P2M_FRAMES, p2mBody(511, 512, [1n, 2n])))), []);
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_P2M_FRAMES, r(T.X86_PV_P2M_FRAMES, p2mBody(0, 3, [1n, 2n])))), ['error p2m-frames-count']);
  const combo = await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_INFO, r(T.X86_PV_INFO, pvInfoBody(8, 3)))), ['error pv-info-combination']);
  assert.equal(combo.diagnostics[0]!.message, 'guest_width 8 with pt_levels 3; a 32-bit guest has 3 levels, a 64-bit guest 4');
  await expectCodes(pv(withRecord(pvRecords(), 1, r(T.X86_PV_INFO, pvInfoBody()))), ['error pv-info-repeated']);
  const ext = await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_VCPU_EXTENDED, r(T.X86_PV_VCPU_EXTENDED, vcpuBody(0, 136)))), ['error vcpu-context-size']);
  assert.equal(ext.diagnostics[0]!.message, 'X86_PV_VCPU_EXTENDED context of 136 octets, expected at most 128 octets');
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_VCPU_XSAVE, r(T.X86_PV_VCPU_XSAVE, vcpuBody(0, 8)))), ['error vcpu-context-size']);
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_VCPU_MSRS, r(T.X86_PV_VCPU_MSRS, vcpuBody(0, 24)))), ['error vcpu-context-size']);
  // A 32-bit guest's frame holds 1024 entries.
  const w4 = replaceType(replaceType(pvRecords(), T.X86_PV_INFO, r(T.X86_PV_INFO, pvInfoBody(4, 3))), T.X86_PV_P2M_FRAMES, r(T.X86_PV_P2M_FRAMES, p2mBody(0, 600, [1n])));
  // (and SHARED_INFO needs X86_PV_INFO before it)
  await expectCodes(libxcBytes([r(T.SHARED_INFO, new Uint8Array(4096)), ...pvRecords(2)], { domainType: 1, version: 2 }), ['error pv-order']);
  await expectCodes(pv(w4), []);
  const vcpuRes = new Bytes().u32(0).u32(1).fill(16).build();
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_VCPU_XSAVE, r(T.X86_PV_VCPU_XSAVE, vcpuRes))), ['error reserved-nonzero']);
  const empty = await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_VCPU_MSRS, r(T.X86_PV_VCPU_MSRS, vcpuBody(0, 0)))), ['warning errata-empty-vcpu']);
  assert.equal(empty.conforming, true);
  await expectCodes(pv(replaceType(pvRecords(), T.X86_PV_VCPU_BASIC, r(T.X86_PV_VCPU_BASIC, new Uint8Array(4)))), ['error length-invalid', 'error length-invalid', 'error pv-vcpu0-basic-missing']);
});

test('TSC and HVM_PARAMS body rules and the empty-params erratum', async () => {
  const tsc = tscBody();
  new DataView(tsc.buffer).setUint32(20, 1, true);
  await expectCodes(libxcBytes(replaceType(hvmRecords(), T.X86_TSC_INFO, r(T.X86_TSC_INFO, tsc))), ['error reserved-nonzero']);
  const params = hvmParamsBody([[1n, 2n]]);
  new DataView(params.buffer).setUint32(4, 1, true);
  await expectCodes(libxcBytes(replaceType(hvmRecords(), T.HVM_PARAMS, r(T.HVM_PARAMS, params))), ['error reserved-nonzero']);
  const wrongCount = hvmParamsBody([[1n, 2n]]);
  new DataView(wrongCount.buffer).setUint32(0, 2, true);
  const c = await expectCodes(libxcBytes(replaceType(hvmRecords(), T.HVM_PARAMS, r(T.HVM_PARAMS, wrongCount))), ['error hvm-params-count']);
  assert.equal(c.diagnostics[0]!.message, 'HVM_PARAMS count 2 needs a body of 40 octets, found 24');
  await expectCodes(libxcBytes(replaceType(hvmRecords(), T.HVM_PARAMS, r(T.HVM_PARAMS, hvmParamsBody([])))), ['warning errata-empty-hvm-params']);
});

test('unknown, deprecated and back-channel records; checkpoints only with --checkpointed', async () => {
  const at = (rec: Rec): Uint8Array => libxcBytes(withRecord(hvmRecords(), 4, rec));
  const unk = await expectCodes(at(r(0x13, new Uint8Array(3))), ['error unknown-mandatory-record']);
  assert.equal(unk.diagnostics[0]!.location.recordType, 'UNKNOWN(0x00000013)');
  await expectCodes(at(r(0x80000013, new Uint8Array(3))), ['warning unknown-optional-record']);
  await expectCodes(at(r(T.TOOLSTACK, new Uint8Array(3))), ['error toolstack-record']);
  await expectCodes(at(r(T.CHECKPOINT_DIRTY_PFN_LIST, new Uint8Array(8))), ['error dirty-pfn-list-in-forward-stream']);
  const cp = withRecord(hvmRecords(), 7, r(T.CHECKPOINT), r(T.PAGE_DATA, pageDataBody([{ pfn: 1 }])), r(T.HVM_PARAMS, hvmParamsBody([[1n, 2n]])), r(T.HVM_CONTEXT, hvmContextBody()));
  await expectCodes(libxcBytes(cp), ['error checkpoint-not-allowed']);
  const ok = await expectCodes(libxcBytes(cp), [], { checkpointed: true });
  assert.equal(ok.summary.checkpoints, 1);
  await expectCodes(at(r(T.VERIFY)), []);
});

// ---- static data -------------------------------------------------------------------------

test('v3: STATIC_DATA_END exactly once, before every dynamic record; static records only before it', async () => {
  const missing = await expectCodes(libxcBytes(without(hvmRecords(), T.STATIC_DATA_END)), [
    'error dynamic-before-static-data-end',
    'error dynamic-before-static-data-end',
    'error dynamic-before-static-data-end',
    'error dynamic-before-static-data-end',
    'error static-data-end-missing',
  ]);
  assert.deepEqual(missing.diagnostics.map((d) => d.location.recordType), ['PAGE_DATA', 'X86_TSC_INFO', 'HVM_PARAMS', 'HVM_CONTEXT', 'END']);
  await expectCodes(libxcBytes(withRecord(hvmRecords(), 5, r(T.STATIC_DATA_END))), ['error static-data-end-repeated']);
  const early = withRecord(hvmRecords(), 2, r(T.X86_TSC_INFO, tscBody()));
  const e = await expectCodes(libxcBytes(early), ['error dynamic-before-static-data-end']);
  assert.equal(e.diagnostics[0]!.message, 'X86_TSC_INFO before STATIC_DATA_END; a v3 stream sends its static data first');
  const late = withRecord(hvmRecords(), 4, r(T.X86_MSR_POLICY, new Bytes().u32(0x10a).u32(0).u64(1n).build()));
  await expectCodes(libxcBytes(late), ['error static-after-static-data-end']);
  const pvLate = withRecord(without(pvRecords(), T.X86_PV_INFO), 2, r(T.X86_PV_INFO, pvInfoBody()));
  // libxc completes a PV guest's static data at STATIC_DATA_END: its X86_PV_INFO must be there by then.
  await expectCodes(libxcBytes(pvLate, { domainType: 1 }), ['error pv-info-missing', 'error static-after-static-data-end']);
});

test('v2: no STATIC_DATA_END, no policies; the inferred position is reported', async () => {
  const hvm2 = await expectCodes(libxcBytes(hvmRecords(2), { version: 2 }), ['info static-data-end-inferred'], { withInfo: true });
  assert.equal(hvm2.diagnostics[0]!.location.recordType, 'PAGE_DATA');
  assert.deepEqual(hvm2.summary.staticDataEnd, { offset: 40, recordIndex: 0, inferred: true, inferredAt: 'PAGE_DATA' });
  const pv2 = await expectCodes(libxcBytes(pvRecords(2), { version: 2, domainType: 1 }), ['info static-data-end-inferred'], { withInfo: true });
  assert.equal(pv2.diagnostics[0]!.message, 'v2 stream: STATIC_DATA_END inferred before this first X86_PV_P2M_FRAMES');
  await expectCodes(libxcBytes(withRecord(hvmRecords(2), 0, r(T.STATIC_DATA_END)), { version: 2 }), ['error v2-static-data-end']);
  await expectCodes(libxcBytes(withRecord(hvmRecords(2), 0, r(T.X86_MSR_POLICY, new Bytes().u32(1).u32(0).u64(0n).build())), { version: 2 }), ['error v2-policy-record']);
});

// ---- order and completeness --------------------------------------------------------------------

test('guest type: no PV records in HVM streams and the reverse', async () => {
  const hvm = await expectCodes(libxcBytes(withRecord(hvmRecords(), 4, r(T.SHARED_INFO, new Uint8Array(4096)))), ['error wrong-guest-type']);
  assert.equal(hvm.diagnostics[0]!.message, 'SHARED_INFO is a PV record in an HVM stream');
  await expectCodes(libxcBytes(withRecord(pvRecords(), 6, r(T.HVM_PARAMS, hvmParamsBody([[1n, 1n]]))), { domainType: 1 }), ['error wrong-guest-type']);
});

test('PV order: X86_PV_INFO -> X86_PV_P2M_FRAMES -> PAGE_DATA -> vcpu records', async () => {
  const v2 = (recs: Rec[]): Uint8Array => libxcBytes(recs, { version: 2, domainType: 1 });
  const base = pvRecords(2);
  const p2mFirst = [base[1]!, base[0]!, ...base.slice(2)];
  const a = await expectCodes(v2(p2mFirst), ['error pv-order']);
  assert.equal(a.diagnostics.find((d) => d.code === 'pv-order')!.message, 'X86_PV_P2M_FRAMES before X86_PV_INFO; expected X86_PV_INFO first');
  const pagesFirst = [base[0]!, base[2]!, base[1]!, ...base.slice(3)];
  await expectCodes(v2(pagesFirst), ['error pv-order']);
  const vcpuFirst = withRecord(base, 2, r(T.X86_PV_VCPU_BASIC, vcpuBody(0)));
  const vf = await expectCodes(v2(vcpuFirst), ['error pv-order', 'error pv-order']);
  assert.deepEqual(vf.diagnostics.filter((d) => d.code === 'pv-order').map((d) => d.location.recordType), ['X86_PV_VCPU_BASIC', 'PAGE_DATA']);
  const pagesAfterVcpu = withRecord(base, base.length - 1, r(T.PAGE_DATA, pageDataBody([{ pfn: 1 }])));
  await expectCodes(v2(pagesAfterVcpu), ['error pv-order']);
});

test('HVM_PARAMS after HVM_CONTEXT is libxc\'s own order (x86_hvm_end_of_checkpoint); completeness of HVM and PV streams', async () => {
  const recs = hvmRecords();
  const i = recs.findIndex((x) => x.type === T.HVM_PARAMS);
  const libxcOrder = [...recs.slice(0, i), recs[i + 1]!, recs[i]!, ...recs.slice(i + 2)];
  assert.deepEqual(libxcOrder.slice(-3).map((x) => x.type), [T.HVM_CONTEXT, T.HVM_PARAMS, T.END]);
  await expectCodes(libxcBytes(libxcOrder), []);
  const noCtx = await expectCodes(libxcBytes(without(recs, T.HVM_CONTEXT)), ['error hvm-context-missing']);
  assert.equal(noCtx.diagnostics[0]!.location.recordType, 'END');
  await expectCodes(libxcBytes(without(pvRecords(2), T.X86_PV_INFO), { version: 2, domainType: 1 }), ['error pv-order', 'error pv-order', 'error pv-info-missing']);
  const noP2m = await expectCodes(libxcBytes(without(pvRecords(3), T.X86_PV_P2M_FRAMES), { domainType: 1 }), ['error pv-order', 'error pv-p2m-frames-missing']);
  assert.equal(noP2m.diagnostics.at(-1)!.location.recordType, 'END');
  // A v2 stream's static data ends where its memory starts: without memory it never does (restore refuses it).
  const noMemory = await expectCodes(libxcBytes(without(hvmRecords(2), T.PAGE_DATA), { version: 2 }), ['error static-data-end-never-inferred']);
  assert.equal(noMemory.diagnostics[0]!.message, 'END of a v2 stream without PAGE_DATA, where a v3 receiver infers STATIC_DATA_END: it carries no memory');
});

test('PV: what libxc\'s restorer refuses: no basic state for vcpu 0, a page above p2m_end_pfn', async () => {
  const v2 = (recs: Rec[]): Uint8Array => libxcBytes(recs, { version: 2, domainType: 1 });
  const base = pvRecords(2);
  const noVcpu0 = base.filter((x) => !(x.type === T.X86_PV_VCPU_BASIC && new DataView(x.body.buffer, x.body.byteOffset).getUint32(0, true) === 0));
  const m = await expectCodes(v2(noVcpu0), ['error pv-vcpu0-basic-missing']);
  assert.equal(m.diagnostics.find((d) => d.code === 'pv-vcpu0-basic-missing')!.location.recordType, 'END');
  await expectCodes(v2(base.filter((x) => x.type !== T.X86_PV_VCPU_BASIC && x.type !== T.X86_PV_VCPU_EXTENDED && x.type !== T.X86_PV_VCPU_XSAVE && x.type !== T.X86_PV_VCPU_MSRS)), ['error pv-vcpu0-basic-missing']);
  // An empty BASIC for vcpu 0 (the 4.6-4.8 erratum) is skipped by libxc: still missing.
  await expectCodes(v2(replaceType(base, T.X86_PV_VCPU_BASIC, r(T.X86_PV_VCPU_BASIC, vcpuBody(0, 0)))), ['warning errata-empty-vcpu', 'warning errata-empty-vcpu', 'error pv-vcpu0-basic-missing']);
  // p2m_end_pfn is 3 in these streams.
  const beyond = withRecord(base, 3, r(T.PAGE_DATA, pageDataBody([{ pfn: 3 }, { pfn: 4 }])));
  const b = await expectCodes(v2(beyond), ['error pv-pfn-beyond-p2m']);
  assert.match(b.diagnostics.find((d) => d.code === 'pv-pfn-beyond-p2m')!.message, /pfn\[1\] 0x4 is beyond p2m_end_pfn 0x3/);
  await expectCodes(v2(withRecord(base, 3, r(T.PAGE_DATA, pageDataBody([{ pfn: 2 }, { pfn: 3 }])))), []);
});

test('HVM_PARAMS: indices and values Xen 4.17 refuses, params libxc never saves, repeats', async () => {
  const withParams = (params: [bigint, bigint][]) => libxcBytes(replaceType(hvmRecords(), T.HVM_PARAMS, r(T.HVM_PARAMS, hvmParamsBody(params))));
  // What xenmig 0.1 wrote: 16 and 31 for CONSOLE_PFN and X87_FIP_WIDTH.
  const old = await expectCodes(withParams([[1n, 0x3ffen], [16n, 0x3ffcn], [31n, 8n]]), ['warning hvm-param-not-saved', 'error hvm-param-refused']);
  assert.match(old.diagnostics[1]!.message, /entry 2: TRIPLE_FAULT_REASON = 0x8, Xen accepts 0-5 \(SHUTDOWN_MAX\) \(EINVAL\)/);
  await expectCodes(withParams([[39n, 1n]]), ['error hvm-param-refused']);
  await expectCodes(withParams([[13n, 0x7ff0n]]), ['error hvm-param-refused']); // DM_DOMAIN: deprecated
  await expectCodes(withParams([[36n, 5n]]), ['error hvm-param-refused']); // X87_FIP_WIDTH: 0, 4 or 8
  await expectCodes(withParams([[33n, 0n]]), ['error hvm-param-refused']); // NR_IOREQ_SERVER_PAGES: at least 1
  await expectCodes(withParams([[9n, 0x2n]]), ['error hvm-param-refused']); // VIRIDIAN without base_freq
  await expectCodes(withParams([[37n, 0x64_00000000n]]), ['error hvm-param-refused']); // VM86_TSS_SIZED under sizeof(tss32)
  await expectCodes(withParams([[4n, 1n]]), []); // PAE_ENABLED: libxc drops it
  await expectCodes(withParams([[10n, 1n]]), ['warning hvm-param-not-saved']);
  await expectCodes(withParams([[1n, 5n], [1n, 6n]]), ['warning hvm-param-repeated']);
  await expectCodes(withParams([[1n, 5n], [5n, 4n], [6n, 3n], [17n, 2n], [19n, 1n], [36n, 8n], [32n, 0x10n], [33n, 2n], [38n, 1n]]), []);
});

test('HVM_CONTEXT: what Xen 4.17\'s hvm_load refuses', async () => {
  const withCtx = (blob: Uint8Array) => libxcBytes(replaceType(hvmRecords(), T.HVM_CONTEXT, r(T.HVM_CONTEXT, blob)));
  await expectCodes(withCtx(hvmContextBody(2)), []);
  const ctx = hvmContextBody(1);
  const at = (o: number, f: (v: DataView) => void): Uint8Array => {
    const b = ctx.slice();
    f(new DataView(b.buffer, o));
    return b;
  };
  const cpu = 32; // the CPU record's descriptor, after HEADER
  const h = await expectCodes(withCtx(at(8, (v) => v.setUint32(0, 0x12345678, true))), ['error hvm-context-header']);
  assert.match(h.diagnostics[0]!.message, /HVM_CONTEXT at blob offset 0: HEADER magic 0x12345678, expected 0x54381286/);
  await expectCodes(withCtx(at(12, (v) => v.setUint32(0, 2, true))), ['error hvm-context-header']);
  await expectCodes(withCtx(at(0, (v) => v.setUint16(0, 2, true))), ['error hvm-context-header']);
  await expectCodes(withCtx(at(cpu, (v) => v.setUint16(0, 21, true))), ['error hvm-context-record']); // unknown typecode
  const long = await expectCodes(withCtx(concat(ctx.subarray(0, 32), new Bytes().u16(3).u16(0).u32(9).raw(new Uint8Array(9)).u16(0).u16(0).u32(0).build())), ['error hvm-context-record']);
  assert.match(long.diagnostics[0]!.message, /PIC instance 0: length 9, expected exactly 8/);
  await expectCodes(withCtx(concat(ctx.subarray(0, 32), new Bytes().u16(3).u16(2).u32(8).raw(new Uint8Array(8)).u16(0).u16(0).u32(0).build())), ['error hvm-context-record']); // PIC 2
  await expectCodes(withCtx(at(cpu, (v) => v.setUint16(2, 128, true))), ['error hvm-context-record']); // vcpu 128
  await expectCodes(withCtx(ctx.subarray(0, ctx.length - 8)), ['error hvm-context-end']);
  // CPU: shorter records are zero-extended (1024 included: flags are forced), longer ones refused.
  const short = concat(ctx.subarray(0, cpu), new Bytes().u16(2).u16(0).u32(1024).build(), ctx.subarray(cpu + 8, cpu + 8 + 1024), ctx.subarray(ctx.length - 8));
  await expectCodes(withCtx(short), []);
  await expectCodes(withCtx(at(cpu + 8 + 656, (v) => v.setUint32(0, 0x1, true))), ['error hvm-context-cpu']); // CR0 without ET
  await expectCodes(withCtx(at(cpu + 8 + 656, (v) => v.setUint32(0, 0x80000010, true))), ['error hvm-context-cpu']); // PG without PE
  await expectCodes(withCtx(at(cpu + 8 + 656, (v) => v.setUint32(0, 0x11 | 0x40, true))), ['error hvm-context-cpu']); // reserved CR0 bit 6
  const efer = await expectCodes(withCtx(at(cpu + 8 + 992, (v) => v.setUint32(0, 0x500, true))), ['error hvm-context-cpu']); // LMA without PG
  assert.match(efer.diagnostics[0]!.message, /vcpu 0: EFER 0x500: LMA\/LME\/CR0.PG inconsistency/);
  await expectCodes(withCtx(at(cpu + 8 + 1004, (v) => v.setUint32(0, 1, true))), ['error hvm-context-cpu']); // TSC_AUX high half
  await expectCodes(withCtx(at(cpu + 8 + 1024, (v) => v.setUint32(0, 3, true))), ['error hvm-context-cpu']); // flags
  await expectCodes(withCtx(at(cpu + 8 + 1028, (v) => v.setUint32(0, 1, true))), ['error hvm-context-cpu']); // pad0
});

test('HVM_CONTEXT: each save record type\'s loader refusals, with their codes', async () => {
  const withCtx = (blob: Uint8Array) => libxcBytes(replaceType(hvmRecords(), T.HVM_CONTEXT, r(T.HVM_CONTEXT, blob)));
  const ctx = hvmContextBody(1);
  const cpu = 32;
  const at = (o: number, f: (v: DataView) => void): Uint8Array => {
    const b = ctx.slice();
    f(new DataView(b.buffer, o));
    return b;
  };
  /** The blob with one more save record before END. */
  const plus = (typecode: number, instance: number, body: Uint8Array): Uint8Array =>
    concat(ctx.subarray(0, ctx.length - 8), new Bytes().u16(typecode).u16(instance).u32(body.length).raw(body).u16(0).u16(0).u32(0).build());
  const u64le = (...vs: bigint[]): Uint8Array => {
    const b = new Uint8Array(vs.length * 8);
    vs.forEach((v, i) => new DataView(b.buffer).setBigUint64(i * 8, v, true));
    return b;
  };
  // CR4: LA57 (bit 12) and bit 15 are outside every hvm_cr4_guest_valid_bits; CR3 past 52 bits.
  const cr4 = await expectCodes(withCtx(at(cpu + 8 + 680, (v) => v.setUint32(0, 0x6f0 | 0x1000, true))), ['error hvm-context-cr4']);
  assert.match(cr4.diagnostics[0]!.message, /vcpu 0: CR4 0x16f0 sets LA57/);
  await expectCodes(withCtx(at(cpu + 8 + 680, (v) => v.setUint32(0, 0x6f0 | 0x8000, true))), ['error hvm-context-cr4']);
  await expectCodes(withCtx(at(cpu + 8 + 680, (v) => v.setUint32(0, 0x6f0 | 0x40000 | 0x100000, true))), []); // OSXSAVE SMEP
  await expectCodes(withCtx(at(cpu + 8 + 672, (v) => v.setBigUint64(0, 1n << 53n, true))), ['error hvm-context-cr3']);
  // LAPIC: x2APIC without enable; a 4.18 (32-octet) record 4.17 cannot load; an 8.. 24 one is fine.
  const lapic = (base: bigint): Uint8Array => concat(u64le(base), new Bytes().u32(0).u32(1).build(), u64le(0n));
  await expectCodes(withCtx(plus(5, 0, lapic(0xfee00000n | 0x800n))), []);
  await expectCodes(withCtx(plus(5, 0, lapic(0xfee00000n | 0x400n))), ['error hvm-context-lapic']);
  const esr = await expectCodes(withCtx(plus(5, 0, concat(lapic(0xfee00800n), new Uint8Array(8)))), ['error hvm-context-record']);
  assert.match(esr.diagnostics[0]!.message, /LAPIC instance 0: length 32, expected at most 24 \(the layout of Xen 4.18 and newer/);
  // MTRR: MTRRcap VCNT 9.
  const mtrr = (cap: bigint): Uint8Array => concat(u64le(0x0007040600070406n), new Uint8Array(128 + 88), u64le(cap, 0xc06n));
  await expectCodes(withCtx(plus(14, 0, mtrr(0x508n))), []);
  await expectCodes(withCtx(plus(14, 0, mtrr(0x509n))), ['error hvm-context-mtrr']);
  // VIRIDIAN_VCPU: nonzero _pad; the 16-octet record of 4.7-4.12 zero-extends.
  const vv = new Uint8Array(16);
  await expectCodes(withCtx(plus(17, 0, vv)), []);
  vv[9] = 1;
  await expectCodes(withCtx(plus(17, 0, vv)), ['error hvm-context-viridian']);
  // CPU_XSAVE: xstate_bv outside xcr0_accum; compacted; xcr0 without x87.
  const xsave = (xcr0: bigint, accum: bigint, bv: bigint, comp = 0n): Uint8Array => concat(u64le(0n, xcr0, accum), new Uint8Array(512), u64le(bv, comp), new Uint8Array(48));
  await expectCodes(withCtx(plus(16, 0, xsave(3n, 7n, 3n))), []);
  await expectCodes(withCtx(plus(16, 0, xsave(3n, 3n, 7n))), ['error hvm-context-xsave']);
  await expectCodes(withCtx(plus(16, 0, xsave(3n, 3n, 3n, 1n << 63n))), ['error hvm-context-xsave']);
  await expectCodes(withCtx(plus(16, 0, xsave(2n, 3n, 3n))), ['error hvm-context-xsave']);
  // CPU_MSR: an MSR the loader does not take, and a nonzero _rsvd.
  const msrs = (index: number, rsvd: number): Uint8Array => concat(new Bytes().u32(1).u32(0).u32(index).u32(rsvd).build(), u64le(1n));
  await expectCodes(withCtx(plus(20, 0, msrs(0x48, 0))), []);
  await expectCodes(withCtx(plus(20, 0, msrs(0x10, 0))), ['error hvm-context-msr']);
  await expectCodes(withCtx(plus(20, 0, msrs(0x48, 1))), ['error hvm-context-msr']);
  // The same type and instance twice.
  await expectCodes(withCtx(plus(2, 0, ctx.subarray(cpu + 8, cpu + 8 + 1032))), ['warning hvm-context-duplicate']);
});

test('diagnostics are capped but counted', async () => {
  const recs = hvmRecords();
  const many = withRecord(recs, 4, ...Array.from({ length: 30 }, () => r(T.TOOLSTACK)));
  const res = await verifyBytes(libxcBytes(many), { maxDiagnostics: 10 });
  assert.equal(res.diagnostics.length, 10);
  assert.equal(res.suppressed, 20);
  assert.equal(res.errors, 30);
});

test('a finding repeated past 10 is counted in one repeated-findings line; headers and records over their bounds are refused', async () => {
  const many = withRecord(hvmRecords(), 4, ...Array.from({ length: 25 }, () => r(0x80000123)));
  const res = await expectCodes(libxcBytes(many), [...Array.from({ length: 10 }, () => 'warning unknown-optional-record'), 'info repeated-findings'], { withInfo: true });
  assert.equal(res.warnings, 25);
  assert.match(res.diagnostics[10]!.message, /^15 more unknown-optional-record warning\(s\) \(UNKNOWN_OPTIONAL\(0x80000123\)\) like the 10 above/);
  const cfg = await expectCodes(bigConfigStream(4 * 1024 * 1024 + 16), ['error limit-exceeded']);
  assert.match(cfg.diagnostics[0]!.message, /optional_data_len \d+ exceeds the 4194304 octet \(4 MiB\) limit on the xl config/);
  const xs = await expectCodes(xenstoreStream(50_000), ['error limit-exceeded']);
  assert.match(xs.diagnostics[0]!.message, /body length \d+ exceeds the 1048584 octet limit on emulator xenstore data/);
  assert.equal(xs.diagnostics[0]!.location.recordType, 'EMULATOR_XENSTORE_DATA');
});

// ---- checkpointed libxl streams (Remus / COLO) ------------------------------------------

function ckpt(parts: Part[]): Uint8Array {
  return assemble(parts).bytes;
}

/** Index of the part with this label, or of the first libxl record of `type` after it. */
function partAt(parts: Part[], label: string, type?: number): number {
  const i = parts.findIndex((p) => p.kind === 'record' && p.label === label);
  if (type === undefined) return i;
  return parts.findIndex((p, j) => j > i && p.kind === 'record' && p.layer === 'libxl' && p.type === type);
}

/** The one diagnostic a stream draws: "severity code: message @ offset, layer, record #". */
async function only(bytes: Uint8Array, opts: VerifyStreamOptions): Promise<string[]> {
  const res = await check(bytes, opts);
  return res.diagnostics.filter((d) => d.severity !== 'info').map((d) => `${d.severity} ${d.code}: ${d.message} @ ${d.location.offset}, ${d.location.layer}, #${d.location.recordIndex}, ${d.location.recordType}`);
}

test('checkpointed libxl streams as libxl and libxc write them are conforming, and their checkpoints are counted', async () => {
  const cases: [Parameters<typeof checkpointedParts>[0], VerifyStreamOptions['checkpointed']][] = [
    [{ guest: 'hvm', xenstore: true }, true],
    [{ guest: 'hvm' }, 'remus'],
    [{ guest: 'pv' }, 'remus'],
    [{ guest: 'hvm', kind: 'colo', xenstore: true }, 'colo'],
    [{ guest: 'pv', kind: 'colo', checkpoints: 0 }, 'colo'],
  ];
  for (const [o, checkpointed] of cases) {
    const res = await expectCodes(ckpt(checkpointedParts(o)), [], { checkpointed });
    const n = (o!.checkpoints ?? 3) + 1;
    assert.deepEqual(res.checkpoints, { kind: checkpointed === true ? 'remus' : checkpointed, checkpoints: n, complete: n });
    assert.equal(res.summary.checkpoints, n);
  }
  // Cut inside the third checkpoint's libxl records: two complete of three.
  const a = assemble(checkpointedParts({ guest: 'hvm' }));
  const cut = await check(a.bytes.subarray(0, a.after('checkpoint 3') + 8), { checkpointed: true });
  assert.deepEqual(cut.checkpoints, { kind: 'remus', checkpoints: 3, complete: 2 });
  assert.deepEqual(codes(cut), ['error truncated']);
});

test('checkpointed rules: CHECKPOINT_END only closes a libxc CHECKPOINT; between them only emulator records', async () => {
  const plain = concat(libxlHeader(), rec(1), sampleHvmV3(), rec(4), rec(0));
  const at = 16 + 8 + sampleHvmV3().length;
  assert.deepEqual(await only(plain, { checkpointed: true }), [
    `error checkpoint-end-misplaced: CHECKPOINT_END that does not follow a libxc CHECKPOINT; libxl rejects it ("Unexpected CHECKPOINT_END") @ ${at}, libxl, #1, CHECKPOINT_END`,
  ]);

  const pv = checkpointedParts({ guest: 'pv', checkpoints: 1 });
  const endAt = partAt(pv, 'end 1');
  const withEnd = [...pv.slice(0, endAt), xl(L.END), ...pv.slice(endAt)];
  const a = assemble(withEnd);
  assert.deepEqual(await only(a.bytes, { checkpointed: true }), [
    `error checkpoint-libxl-record: END between CHECKPOINT and CHECKPOINT_END (checkpoint 1); only EMULATOR_XENSTORE_DATA and EMULATOR_CONTEXT may come before CHECKPOINT_END @ ${a.offsets[endAt]}, libxl, #1, END`,
  ]);
  const withCtx = assemble([...pv.slice(0, endAt), xl(L.LIBXC_CONTEXT), ...pv.slice(endAt)]);
  assert.deepEqual(problems(await check(withCtx.bytes, { checkpointed: true })), ['error libxl-libxc-context-repeated', 'error checkpoint-libxl-record']);

  // An emulator record for a PV guest, in a checkpoint or not.
  const pvEmu = assemble([...pv.slice(0, endAt), xl(L.EMULATOR_CONTEXT, emulatorBody(2, 0, new Uint8Array(8))), ...pv.slice(endAt)]);
  assert.deepEqual(await only(pvEmu.bytes, { checkpointed: true }), [
    `error emulator-record-pv: EMULATOR_CONTEXT in a PV stream; a PV guest has no emulator and libxl refuses the record @ ${pvEmu.offsets[endAt]}, libxl, #1, EMULATOR_CONTEXT`,
  ]);
  const pvTail = libxlWrap(libxcBytes(pvRecords(), { domainType: 1 }), { extra: [emu(2, 2, new TextEncoder().encode('a\0b\0'))] });
  await expectCodes(pvTail, ['error emulator-record-pv', 'warning checkpointed-after-libxc-end'], { checkpointed: true });
});

test('checkpointed rules: emulator records of an HVM checkpoint, their order, and records after the libxc END', async () => {
  const hvm = checkpointedParts({ guest: 'hvm', xenstore: true, checkpoints: 1 });
  const xs = partAt(hvm, 'checkpoint 2', L.XENSTORE);
  const swapped = [...hvm];
  [swapped[xs], swapped[xs + 1]] = [swapped[xs + 1]!, swapped[xs]!];
  const a = assemble(swapped);
  assert.deepEqual(await only(a.bytes, { checkpointed: true }), [
    `warning checkpoint-emulator-order: EMULATOR_XENSTORE_DATA after EMULATOR_CONTEXT in checkpoint 2; libxl sends the xenstore data first @ ${a.offsets[xs + 1]}, libxl, #5, EMULATOR_XENSTORE_DATA`,
  ]);
  const twice = [...hvm.slice(0, xs + 2), hvm[xs + 1]!, ...hvm.slice(xs + 2)];
  assert.deepEqual((await only(ckpt(twice), { checkpointed: true })).map((l) => l.split(' @')[0]), [
    'warning checkpoint-emulator-order: a second EMULATOR_CONTEXT in checkpoint 2; libxl sends one per emulator per checkpoint',
  ]);

  const noCtx = hvm.filter((_, i) => i !== partAt(hvm, 'checkpoint 1', L.EMULATOR_CONTEXT));
  const b = assemble(noCtx);
  const closeAt = partAt(noCtx, 'end 1');
  assert.deepEqual(await only(b.bytes, { checkpointed: true }), [
    `warning checkpoint-emulator-context-missing: checkpoint 1 of an HVM stream closed without EMULATOR_CONTEXT; the secondary keeps the previous device model state @ ${b.offsets[closeAt]}, libxl, #2, CHECKPOINT_END`,
  ]);

  const late = [...hvm.slice(0, -1), xl(L.EMULATOR_CONTEXT, emulatorBody(2, 0, new Uint8Array(8))), hvm.at(-1)!];
  const c = assemble(late);
  assert.deepEqual(await only(c.bytes, { checkpointed: true }), [
    `warning checkpointed-after-libxc-end: EMULATOR_CONTEXT after the libxc END of a checkpointed stream; the receiver completes at that END and never reads it @ ${c.offsets.at(-2)}, libxl, #7, EMULATOR_CONTEXT`,
  ]);
});

test('checkpointed rules: COLO\'s CHECKPOINT_STATE, its place, its direction and its length', async () => {
  const colo = checkpointedParts({ guest: 'pv', kind: 'colo', checkpoints: 1 });
  const stateAt = partAt(colo, 'end 1') + 1;
  const withId = (id: number, len = 4): Part[] => colo.map((p, i) => (i === stateAt ? xl(L.CHECKPOINT_STATE, new Bytes().u32(id).raw(new Uint8Array(len - 4)).build()) : p));
  const offset = assemble(colo).offsets[stateAt];
  assert.deepEqual(await only(ckpt(withId(2)), { checkpointed: 'colo' }), [
    `error checkpoint-state-direction: control_id 2 (CHECKPOINT_SVM_READY) travels from the COLO secondary to the primary on the back channel; the forward stream carries only 0 (CHECKPOINT_NEW) @ ${offset}, libxl, #2, CHECKPOINT_STATE`,
  ]);
  assert.deepEqual(problems(await check(ckpt(withId(1)), { checkpointed: 'colo' })), ['error checkpoint-state-direction']);
  assert.deepEqual(problems(await check(ckpt(withId(4)), { checkpointed: 'colo' })), ['error checkpoint-state-invalid']);
  assert.deepEqual(await only(ckpt(withId(0, 8)), { checkpointed: 'colo' }), [
    `warning checkpoint-state-length: CHECKPOINT_STATE body length 8; libxl writes exactly 4 (control_id) and reads no more @ ${offset}, libxl, #2, CHECKPOINT_STATE`,
  ]);

  // Something else where CHECKPOINT_STATE belongs.
  const missing = colo.map((p, i) => (i === stateAt ? xl(L.XENSTORE, emulatorBody(2, 0, new Uint8Array(0))) : p));
  assert.deepEqual(await only(ckpt(missing), { checkpointed: 'colo' }), [
    `error emulator-record-pv: EMULATOR_XENSTORE_DATA in a PV stream; a PV guest has no emulator and libxl refuses the record @ ${offset}, libxl, #2, EMULATOR_XENSTORE_DATA`,
    `error checkpoint-state-missing: EMULATOR_XENSTORE_DATA after CHECKPOINT_END; a COLO primary sends CHECKPOINT_STATE (CHECKPOINT_NEW) before the next checkpoint @ ${offset}, libxl, #2, EMULATOR_XENSTORE_DATA`,
  ]);

  // CHECKPOINT_STATE inside a checkpoint, and in a Remus stream at all.
  const remus = checkpointedParts({ guest: 'pv', checkpoints: 0 });
  const closeAt = partAt(remus, 'end 1');
  const inside = assemble([...remus.slice(0, closeAt), xl(L.CHECKPOINT_STATE, new Bytes().u32(0).build()), ...remus.slice(closeAt)]);
  assert.deepEqual(await only(inside.bytes, { checkpointed: 'remus' }), [
    `error checkpoint-state-misplaced: CHECKPOINT_STATE between CHECKPOINT and CHECKPOINT_END (checkpoint 1); libxl rejects it there @ ${inside.offsets[closeAt]}, libxl, #1, CHECKPOINT_STATE`,
  ]);
  const remusState = [...remus.slice(0, -1), xl(L.CHECKPOINT_STATE, new Bytes().u32(0).build()), remus.at(-1)!];
  const r2 = assemble(remusState);
  assert.deepEqual(await only(r2.bytes, { checkpointed: 'remus' }), [
    `error checkpoint-state-misplaced: CHECKPOINT_STATE in a Remus stream; only COLO sends it (verify with --colo) @ ${r2.offsets.at(-2)}, libxl, #2, CHECKPOINT_STATE`,
  ]);
});

test('checkpointed rules: a COLO stream verified as Remus says so', async () => {
  const colo = assemble(checkpointedParts({ guest: 'pv', kind: 'colo', checkpoints: 0 }));
  const res = await check(colo.bytes, { checkpointed: 'remus' });
  const hint = res.diagnostics.find((d) => d.code === 'colo-stream-hint')!;
  assert.equal(hint.severity, 'info');
  assert.deepEqual(hint.location, { offset: colo.after('end 1'), layer: 'libxc', recordIndex: 10, recordType: 'X86_PV_VCPU_EXTENDED' });
  assert.deepEqual(codes(await check(colo.bytes, { checkpointed: 'colo' })), []);
});

after(() => {
  const missing = Object.keys(DIAGNOSTIC_CODES).filter((c) => !seen.has(c));
  assert.deepEqual(missing, [], 'every documented diagnostic code is drawn by a test stream');
});

test('legacy images: each legacy finding is drawn', async () => {
  for (const f of legacyFindingStreams()) {
    const res = await check(f.bytes, f.legacy ? { legacy: f.legacy } : {});
    assert.deepEqual(problems(res), [`error ${f.code}`], f.code);
  }
});
