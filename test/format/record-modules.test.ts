/**
 * The record modules against the tables derived from them: every REC_TYPE has a module of
 * that number and name, the derived sets say what the modules' flags say, and every code
 * a module's body check reports is one of the verifier's documented codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { LIBXL_REC_TYPE, REC_TYPE, recordTypeName, isKnownRecordType } from '../../src/format/constants.js';
import { LIBXL_MODULES, LIBXL_MODULE_BY_TYPE, LIBXL_RECORDS, isKnownLibxlRecordType, libxlRecordTypeName } from '../../src/format/libxl/table.js';
import { checkLength, type StreamFacts } from '../../src/format/record-module.js';
import {
  DYNAMIC_RECORDS,
  HVM_ONLY_RECORDS,
  LIBXC_MODULES,
  LIBXC_MODULE_BY_TYPE,
  LIBXC_RECORDS,
  PV_ONLY_RECORDS,
  STATIC_RECORDS,
  V3_ONLY_RECORDS,
  VCPU_RECORDS,
} from '../../src/format/records.js';
import { DIAGNOSTIC_CODES } from '../../src/verify/codes.js';

const LAYERS = [
  { layer: 'libxc', types: REC_TYPE, byType: LIBXC_MODULE_BY_TYPE, records: LIBXC_RECORDS as Record<string, unknown>, count: LIBXC_MODULES.length, nameOf: recordTypeName, known: isKnownRecordType },
  { layer: 'libxl', types: LIBXL_REC_TYPE, byType: LIBXL_MODULE_BY_TYPE, records: LIBXL_RECORDS as Record<string, unknown>, count: LIBXL_MODULES.length, nameOf: libxlRecordTypeName, known: isKnownLibxlRecordType },
];

for (const L of LAYERS) {
  test(`every ${L.layer} record type has a module of that number and name, and no module is extra`, () => {
    for (const [name, type] of Object.entries(L.types)) {
      const m = L.byType.get(type);
      assert.ok(m, `${name} has no module`);
      assert.equal(m.name, name);
      assert.equal(L.nameOf(type), name);
      assert.ok(L.known(type));
      assert.equal(L.records[name], m);
    }
    assert.equal(L.count, Object.keys(L.types).length);
  });
}

test('libxl names of unknown types, from the table', () => {
  assert.equal(libxlRecordTypeName(9), 'UNKNOWN(0x00000009)');
  assert.equal(libxlRecordTypeName(0x80000009), 'UNKNOWN_OPTIONAL(0x80000009)');
  assert.ok(!isKnownLibxlRecordType(6));
});

test('the type sets are the ones the spec names (derived from the modules\' flags)', () => {
  const T = REC_TYPE;
  const same = (a: ReadonlySet<number>, b: number[]): void => assert.deepEqual([...a].sort((x, y) => x - y), b.sort((x, y) => x - y));
  same(V3_ONLY_RECORDS, [T.STATIC_DATA_END, T.X86_CPUID_POLICY, T.X86_MSR_POLICY]);
  same(STATIC_RECORDS, [T.X86_PV_INFO, T.X86_CPUID_POLICY, T.X86_MSR_POLICY]);
  same(DYNAMIC_RECORDS, [
    T.PAGE_DATA, T.X86_PV_P2M_FRAMES, T.X86_PV_VCPU_BASIC, T.X86_PV_VCPU_EXTENDED, T.X86_PV_VCPU_XSAVE, T.X86_PV_VCPU_MSRS,
    T.SHARED_INFO, T.X86_TSC_INFO, T.HVM_CONTEXT, T.HVM_PARAMS,
  ]);
  same(PV_ONLY_RECORDS, [T.X86_PV_INFO, T.X86_PV_P2M_FRAMES, T.X86_PV_VCPU_BASIC, T.X86_PV_VCPU_EXTENDED, T.X86_PV_VCPU_XSAVE, T.X86_PV_VCPU_MSRS, T.SHARED_INFO]);
  same(HVM_ONLY_RECORDS, [T.HVM_CONTEXT, T.HVM_PARAMS]);
  same(VCPU_RECORDS, [T.X86_PV_VCPU_BASIC, T.X86_PV_VCPU_EXTENDED, T.X86_PV_VCPU_XSAVE, T.X86_PV_VCPU_MSRS]);
});

const FORMAT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src/format');

test('every code a module names in its source is in the verifier\'s table', () => {
  const codes = new Set<string>();
  for (const dir of ['libxc', 'libxl'].map((d) => join(FORMAT_DIR, d))) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/report\(\s*'([a-z0-9-]+)'/g)) codes.add(m[1]!);
    }
  }
  for (const c of ['emulator-id-invalid', 'xenstore-malformed', 'checkpoint-not-allowed', 'checkpoint-state-invalid']) assert.ok(codes.has(c), `no libxl module reports ${c}`);
  assert.ok(codes.size >= 20, `only ${codes.size} codes found: the pattern no longer matches the modules`);
  for (const c of codes) assert.ok(Object.hasOwn(DIAGNOSTIC_CODES, c), `${c} is not in src/verify/codes.ts`);
});

const facts = fc.record({
  version: fc.constantFrom(2, 3),
  guestType: fc.constantFrom('pv' as const, 'hvm' as const, undefined),
  staticDataEndSeen: fc.boolean(),
  pvGuestWidth: fc.constantFrom(4, 8, undefined),
  p2mEndPfn: fc.option(fc.integer({ min: 0, max: 2 ** 20 }), { nil: undefined }),
  checkpointed: fc.boolean(),
}) as fc.Arbitrary<StreamFacts>;

test('property: every code a module reports over random bodies is in the verifier\'s table', () => {
  const seen = new Set<string>();
  const withCheck = [...LIBXC_MODULES, ...LIBXL_MODULES].filter((m) => m.check) as (typeof LIBXC_MODULES)[number][];
  fc.assert(
    fc.property(fc.constantFrom(...withCheck), fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.boolean(), facts, (m, body, le, f) => {
      if (checkLength(m.length, body.length) !== undefined) return;
      m.check!({
        body,
        length: body.length,
        littleEndian: le,
        typeName: m.name,
        facts: f,
        record: () => m.decode(body, le),
        report: (code) => {
          seen.add(code);
          assert.ok(Object.hasOwn(DIAGNOSTIC_CODES, code), `${m.name} reported ${code}, not in src/verify/codes.ts`);
        },
      });
    }),
    { numRuns: 3000 },
  );
  assert.ok(seen.size >= 10, `only ${seen.size} codes reported`);
});
