import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuPolicy, checkCompatibility, newestXenVersion, sampleHostPolicy, samplePolicies } from '../../src/policy/index.js';
import { vendorOnly, withFeature, withLeaf, withMsr } from '../support/policy.js';

const host = sampleHostPolicy('intel-skylake-sp', 'HVM Max');
const guest = samplePolicies.hvm;

function only(g: CpuPolicy, h: CpuPolicy) {
  const r = checkCompatibility(g, h);
  assert.equal(r.compatible, false);
  assert.equal(r.reasons.length, 1, r.reasons.map((x) => x.text).join('\n'));
  return r.reasons[0]!;
}

test('the sample guest runs on its own host and on the newer Intel host', () => {
  assert.deepEqual(checkCompatibility(guest, host), { compatible: true, reasons: [], warnings: [], xen: newestXenVersion() });
  assert.equal(checkCompatibility(guest, sampleHostPolicy('intel-icelake-sp', 'HVM Max')).compatible, true);
});

test('vendor differs', () => {
  const r = only(vendorOnly('AMD'), vendorOnly('Intel'));
  assert.equal(r.kind, 'vendor');
  assert.equal(r.text, "vendor differs: the guest's is AMD, the host's is Intel");
});

test('max basic leaf higher than the host', () => {
  const r = only(vendorOnly('Intel', 0x16), vendorOnly('Intel', 0xd));
  assert.equal(r.kind, 'max-leaf');
  assert.equal(r.leaf, 0);
  assert.equal(r.text, "max basic leaf (CPUID 0x00000000.eax): the guest's 0x00000016 is higher than the host's 0x0000000d");
});

test('max extended leaf and max leaf 7 subleaf higher than the host', () => {
  const ext = only(withLeaf(guest, 0x80000000, 0xffffffff, { eax: 0x80000022 }), host);
  assert.equal(ext.kind, 'max-leaf');
  assert.equal(ext.leaf, 0x80000000);
  const sub = only(withLeaf(guest, 7, 0, { eax: 3 }), host);
  assert.equal(sub.kind, 'max-leaf');
  assert.equal(sub.leaf, 7);
  assert.equal(sub.guest, 3);
  assert.equal(sub.host, 2);
});

test('a feature the host cannot offer is named with its word and bit', () => {
  const r = only(withFeature(guest, 'AVX512_VBMI', true), host);
  assert.deepEqual(
    { kind: r.kind, feature: r.feature, word: r.word, bit: r.bit, leaf: r.leaf, subleaf: r.subleaf },
    { kind: 'feature', feature: 'AVX512_VBMI', word: 6, bit: 1, leaf: 7, subleaf: 0 },
  );
  assert.equal(r.text, 'feature AVX512_VBMI (word 6 bit 1, CPUID 0x00000007:0.ecx): the guest sees it, the host cannot offer it');
});

test('every missing feature is listed, in word and bit order', () => {
  const g = withFeature(withFeature(withFeature(guest, 'SHA', true), 'GFNI', true), 'SSE4A', true);
  const r = checkCompatibility(g, host);
  assert.deepEqual(r.reasons.map((x) => x.feature), ['SSE4A', 'SHA', 'GFNI']);
});

test("an unnamed bit is still a reason", () => {
  const r = only(withLeaf(guest, 1, 0xffffffff, { edx: (guest.leaf(1).edx | (1 << 10)) >>> 0 }), host);
  assert.equal(r.kind, 'feature');
  assert.equal(r.feature, undefined);
  assert.match(r.text, /^feature bit 10 of word 0 \(word 0 bit 10, CPUID 0x00000001\.edx\)/);
});

test("'|' features accumulate: the guest may see them on a host without them", () => {
  const h = withFeature(withFeature(host, 'MD_CLEAR', false), 'NO_LMSL', false);
  const g = withFeature(withFeature(guest, 'MD_CLEAR', true), 'NO_LMSL', true);
  assert.deepEqual(checkCompatibility(g, h), { compatible: true, reasons: [], warnings: [], xen: newestXenVersion() });
  // ... but a plain feature in the same word is not tolerated.
  assert.equal(only(withFeature(g, 'FSRM', true), withFeature(h, 'FSRM', false)).feature, 'FSRM');
});

test("dynamic CR4 mirrors (OSXSAVE, OSPKE) say nothing about a host", () => {
  const g = withFeature(withFeature(guest, 'OSXSAVE', true), 'OSPKE', true);
  assert.equal(checkCompatibility(g, host).compatible, true);
});

test('an XSAVE component the host lacks', () => {
  const h = withLeaf(host, 0xd, 0, { eax: 0x2e7 & ~(1 << 9), ecx: 2688 });
  const g = withLeaf(guest, 0xd, 0, { ecx: 2688 });
  const r = only(g, h);
  assert.equal(r.kind, 'xsave-component');
  assert.equal(r.component, 9);
  assert.equal(r.text, 'XSAVE component 9 (PKRU): the guest may enable it, the host cannot');
});

test('an XSAVE component larger than the host', () => {
  const r = only(withLeaf(guest, 0xd, 2, { eax: 512 }), host);
  assert.equal(r.kind, 'xsave-size');
  assert.equal(r.component, 2);
  assert.equal(r.text, "XSAVE component 2 (AVX) size: the guest's 512 bytes exceed the host's 256");
});

test('an XSAVE area larger than the host', () => {
  const r = only(withLeaf(guest, 0xd, 0, { ecx: 4096 }), host);
  assert.equal(r.kind, 'xsave-size');
  assert.equal(r.text, "XSAVE area size (CPUID 0x0000000d:0.ecx): the guest's 4096 bytes exceed the host's 2696");
});

test('PLATFORM_INFO bits the host lacks', () => {
  const pv = sampleHostPolicy('amd-zen2-rome', 'PV Max');
  const g = withMsr(pv, 0xce, 0x80000000n);
  const r = only(g, pv);
  assert.equal(r.kind, 'msr-bit');
  assert.equal(r.msr, 0xce);
  assert.equal(r.text, 'MSR_INTEL_PLATFORM_INFO bit 31 CPUID_FAULTING: the guest sees it, the host lacks it');
});

test('ARCH_CAPABILITIES bits the host lacks, by name, including the high half', () => {
  const r = only(withFeature(guest, 'MDS_NO', true), host);
  assert.equal(r.kind, 'msr-bit');
  assert.equal(r.text, 'MSR_ARCH_CAPABILITIES bit 5 MDS_NO (featureset word 16 bit 5): the guest sees it, the host lacks it');
  const hi = only(withFeature(guest, 'ITS_NO', true), host);
  assert.equal(hi.feature, 'ITS_NO');
  assert.equal(hi.word, 17);
  assert.match(hi.text, /^MSR_ARCH_CAPABILITIES bit 62 ITS_NO /);
});

test('reasons come vendor, leaves, features, XSAVE, MSRs', () => {
  const amd = sampleHostPolicy('amd-zen2-rome', 'HVM Max');
  const kinds = checkCompatibility(withLeaf(guest, 7, 0, { eax: 5 }), amd).reasons.map((r) => r.kind);
  const order = ['vendor', 'max-leaf', 'feature', 'xsave-component', 'xsave-size', 'msr-bit'];
  assert.deepEqual([...kinds].sort((a, b) => order.indexOf(a) - order.indexOf(b)), kinds);
  assert.equal(kinds[0], 'vendor');
});

test('accepts the stream layer\'s plain CpuPolicyData', () => {
  assert.equal(checkCompatibility(guest.toData(), host.toData()).compatible, true);
});
