import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeDomainHeader,
  decodeImageHeader,
  decodeLibxlHeader,
  decodeLibxlRecord,
  decodeXlHeader,
  encodeDomainHeader,
  encodeImageHeader,
  encodeLibxlHeader,
  encodeLibxlRecordBody,
  encodeXenstoreData,
  encodeXlHeader,
  hvmParamName,
  hvmParamIndexByName,
  makeXlHeader,
  parseXenstoreData,
  xlConfigText,
  XL_MAGIC_BYTES,
  hvmContextVcpus,
} from '../../src/format/index.js';
import { libxcHeaders } from '../support/builder.js';
import { sampleHvmContext } from '../../src/domain/simulated/sample.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });

test('libxc headers: the builder\'s bytes decode, and encode back byte for byte', () => {
  for (const bigEndian of [false, true]) {
    const bytes = libxcHeaders({ version: 3, bigEndian, domainType: 1, xenMajor: 4, xenMinor: 17 });
    const ih = decodeImageHeader(bytes.subarray(0, 24));
    assert.deepEqual(ih, { marker: 2n ** 64n - 1n, id: 0x58454e46, version: 3, options: bigEndian ? 1 : 0, reserved1: 0, reserved2: 0 });
    const dh = decodeDomainHeader(bytes.subarray(24), !bigEndian);
    assert.deepEqual(dh, { type: 1, pageShift: 12, reserved: 0, xenMajor: 4, xenMinor: 17 });
    assert.deepEqual(encodeImageHeader(ih), bytes.subarray(0, 24));
    assert.deepEqual(encodeDomainHeader(dh, !bigEndian), bytes.subarray(24));
  }
});

test('property: every header round-trips, reserved fields included', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), u32, u32, u16, u16, u32, (marker, id, version, options, r1, r2) => {
      const h = { marker, id, version, options, reserved1: r1, reserved2: r2 };
      assert.deepEqual(decodeImageHeader(encodeImageHeader(h)), h);
    }),
  );
  fc.assert(
    fc.property(u32, u16, u16, u32, u32, fc.boolean(), (type, pageShift, reserved, xenMajor, xenMinor, le) => {
      const h = { type, pageShift, reserved, xenMajor, xenMinor };
      assert.deepEqual(decodeDomainHeader(encodeDomainHeader(h, le), le), h);
    }),
  );
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), u32, u32, (ident, version, options) => {
      const h = { ident, version, options };
      assert.deepEqual(decodeLibxlHeader(encodeLibxlHeader(h)), h);
    }),
  );
});

test('property: xl header round-trips with a config as JSON or text, either byte order', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.boolean(), fc.boolean(), (config, json, littleEndian) => {
      const h = makeXlHeader(config, { json, littleEndian });
      const bytes = encodeXlHeader(h);
      const back = decodeXlHeader(bytes);
      assert.deepEqual(back.magic, XL_MAGIC_BYTES);
      assert.equal(back.littleEndian, littleEndian);
      assert.equal(back.mandatoryFlags, json ? 3 : 2);
      assert.equal(xlConfigText(back.config!), config);
      assert.deepEqual(encodeXlHeader(back), bytes);
    }),
  );
});

test('property: libxl records and xenstore data round-trip', () => {
  const pairs = fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\0')), fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0'))), { maxLength: 6 });
  fc.assert(
    fc.property(pairs, fc.integer({ min: 0, max: 2 }), u32, fc.boolean(), (kv, emulatorId, index, le) => {
      const data = encodeXenstoreData(kv);
      const parsed = parseXenstoreData(data);
      assert.ok('pairs' in parsed);
      assert.deepEqual(parsed.pairs, structuredClone(kv));
      const rec = { type: 2 as const, emulatorId, index, data };
      const body = encodeLibxlRecordBody(rec, le);
      assert.deepEqual(decodeLibxlRecord(2, body, le), rec);
    }),
  );
  fc.assert(
    fc.property(u32, fc.uint8Array({ maxLength: 12 }), fc.boolean(), (controlId, rest, le) => {
      const rec = { type: 5 as const, controlId, rest };
      assert.deepEqual(decodeLibxlRecord(5, encodeLibxlRecordBody(rec, le), le), rec);
    }),
  );
  for (const t of [0, 1, 4]) assert.deepEqual(decodeLibxlRecord(t, new Uint8Array(0), true), { type: t });
});

test('HVM param names follow Xen\'s public/hvm/params.h', () => {
  assert.equal(hvmParamName(0n), 'CALLBACK_IRQ');
  assert.equal(hvmParamName(9), 'VIRIDIAN');
  assert.equal(hvmParamName(12), 'IDENT_PT');
  assert.equal(hvmParamName(17), 'CONSOLE_PFN');
  assert.equal(hvmParamName(27), 'PAGING_RING_PFN');
  assert.equal(hvmParamName(34), 'VM_GENERATION_ID_ADDR');
  assert.equal(hvmParamName(38), 'MCA_CAP');
  assert.equal(hvmParamName(7), 'PARAM_7');
  assert.equal(hvmParamIndexByName('TIMER_MODE'), 10n);
  assert.equal(hvmParamIndexByName('PARAM_3'), 3n);
});

test('HVM context blob: CPU records give the vcpu ids', () => {
  assert.deepEqual(hvmContextVcpus(sampleHvmContext(3)), [0, 1, 2]);
  assert.deepEqual(hvmContextVcpus(new Uint8Array(5)), []);
});
