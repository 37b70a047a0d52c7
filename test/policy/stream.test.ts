import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REC_TYPE } from '../../src/format/constants.js';
import { StreamFormatError } from '../../src/format/errors.js';
import { type LibxcRecord, decodeRecord, encodeRecordBody } from '../../src/format/records.js';
import { CpuPolicy, decodePolicy, loadGuestPolicy, readStreamPolicy, samplePolicies } from '../../src/policy/index.js';
import { T, concat, cpuidBody, libxcHeaders, libxlWrap, msrBody, pageDataBody, pvInfoBody, rec, xlWrap } from '../support/builder.js';
import { withTmp } from '../support/tmp.js';

function policyRecords(p: CpuPolicy, le: boolean): { cpuid: Uint8Array; msr: Uint8Array } {
  return {
    cpuid: encodeRecordBody({ type: REC_TYPE.X86_CPUID_POLICY, entries: [...p.cpuid] }, le),
    msr: encodeRecordBody({ type: REC_TYPE.X86_MSR_POLICY, entries: [...p.msrs] }, le),
  };
}

test('a policy goes through the stream records and back byte for byte, in both byte orders', () => {
  for (const le of [true, false]) {
    for (const p of [samplePolicies.hvm, samplePolicies.pv]) {
      const { cpuid, msr } = policyRecords(p, le);
      assert.equal(cpuid.length, 24 * p.cpuid.length);
      const c = decodeRecord(REC_TYPE.X86_CPUID_POLICY, cpuid, le);
      const m = decodeRecord(REC_TYPE.X86_MSR_POLICY, msr, le);
      assert.ok(!('unknown' in c) && c.type === REC_TYPE.X86_CPUID_POLICY);
      assert.ok(!('unknown' in m) && m.type === REC_TYPE.X86_MSR_POLICY);
      const decoded = decodePolicy({ cpuid: c.entries, msrs: m.entries });
      const again = policyRecords(new CpuPolicy(decoded.toData().cpuid!, decoded.toData().msrs!), le);
      assert.deepEqual(again.cpuid, cpuid);
      assert.deepEqual(again.msr, msr);
    }
  }
});

test('odd entries (zero leaves, out of order, non-zero MSR flags) are kept exactly', () => {
  const body = cpuidBody([
    [0x80000000, 0xffffffff, 0x80000008, 0, 0, 0],
    [0, 0xffffffff, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69],
    [3, 0xffffffff, 0, 0, 0, 0],
  ]);
  const msrs = msrBody([[0x10a, 7, 0xffffffffffffffffn]]);
  const c = decodeRecord(REC_TYPE.X86_CPUID_POLICY, body, true) as Extract<LibxcRecord, { type: 0x11 }>;
  const m = decodeRecord(REC_TYPE.X86_MSR_POLICY, msrs, true) as Extract<LibxcRecord, { type: 0x12 }>;
  const p = decodePolicy({ cpuid: c.entries, msrs: m.entries });
  assert.deepEqual(policyRecords(p, true), { cpuid: body, msr: msrs });
});

function hvmStream(version: 2 | 3, policy?: CpuPolicy): Uint8Array {
  const parts = [libxcHeaders({ version, domainType: 2 })];
  if (policy !== undefined) {
    const { cpuid, msr } = policyRecords(policy, true);
    parts.push(rec(T.X86_CPUID_POLICY, cpuid), rec(T.X86_MSR_POLICY, msr));
  }
  if (version === 3) parts.push(rec(T.STATIC_DATA_END));
  parts.push(rec(T.PAGE_DATA, pageDataBody([{ pfn: 0 }])), rec(T.END));
  return concat(...parts);
}

test("reads the policy from a v3 stream's static records, in any wrapping", () =>
  withTmp(async (dir) => {
    const libxc = hvmStream(3, samplePolicies.hvm);
    for (const [name, bytes] of [['bare.libxc', libxc], ['wrapped.xl', xlWrap(libxlWrap(libxc))]] as const) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const s = await readStreamPolicy(path);
      assert.equal(s.guestType, 'hvm');
      assert.equal(s.streamVersion, 3);
      assert.deepEqual(s.policy?.toData(), samplePolicies.hvm.toData());
    }
  }));

test('a v2 stream, or a v3 stream without the records, has no policy', () =>
  withTmp(async (dir) => {
    const v2 = join(dir, 'v2');
    writeFileSync(v2, hvmStream(2));
    assert.deepEqual(await readStreamPolicy(v2), { guestType: 'hvm', streamVersion: 2, hasCpuid: false, hasMsrs: false, xenMajor: 4, xenMinor: 19 });
    const v3 = join(dir, 'v3');
    writeFileSync(v3, hvmStream(3));
    const g = await loadGuestPolicy(v3);
    assert.equal(g.from, 'stream');
    assert.equal(g.policy, undefined);
  }));

test('a PV stream says it is PV', () =>
  withTmp(async (dir) => {
    const { cpuid, msr } = policyRecords(samplePolicies.pv, true);
    const bytes = concat(
      libxcHeaders({ version: 3, domainType: 1 }),
      rec(T.X86_PV_INFO, pvInfoBody()),
      rec(T.X86_CPUID_POLICY, cpuid),
      rec(T.X86_MSR_POLICY, msr),
      rec(T.STATIC_DATA_END),
      rec(T.END),
    );
    const path = join(dir, 'pv');
    writeFileSync(path, bytes);
    const s = await readStreamPolicy(path);
    assert.equal(s.guestType, 'pv');
    assert.equal(s.policy?.cpuid.length, samplePolicies.pv.cpuid.length);
  }));

test('a malformed policy record is a stream error naming the record', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'bad');
    writeFileSync(path, concat(libxcHeaders({ version: 3 }), rec(T.X86_CPUID_POLICY, new Uint8Array(20)), rec(T.STATIC_DATA_END), rec(T.END)));
    await assert.rejects(readStreamPolicy(path), (err: unknown) => {
      assert.ok(err instanceof StreamFormatError);
      assert.match(err.message, /X86_CPUID_POLICY/);
      return true;
    });
  }));
