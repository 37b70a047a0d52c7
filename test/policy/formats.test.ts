import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { UsageError } from '../../src/format/errors.js';
import {
  CpuPolicy,
  SAMPLE_HOSTS,
  featureset,
  formatXenCpuid,
  formatXenCpuidPolicies,
  inferGuestType,
  loadPolicyFile,
  parsePolicyJson,
  parsePolicyText,
  parseXenCpuid,
  policiesToJson,
  readPolicyFile,
  sampleGuestPolicy,
  samplePolicyPath,
  selectPolicy,
  summarizePolicy,
} from '../../src/policy/index.js';

const fixture = (name: string): string => new URL(`../../../test/fixtures/policy/${name}`, import.meta.url).pathname;

test('featureset: words, attributes, and MSR bits past 31 land in the next word', () => {
  const fs = featureset();
  assert.equal(fs.words.length, 19);
  assert.deepEqual(fs.words[5], { word: 5, kind: 'cpuid', leaf: 7, subleaf: 0, reg: 'ebx' });
  assert.deepEqual(fs.words[17], { word: 17, kind: 'msr', msr: 0x10a, half: 'hi' });
  const its = fs.byName.get('ITS_NO')!;
  assert.deepEqual([its.word, its.bit], [17, 30]);
  const md = fs.byName.get('MD_CLEAR')!;
  assert.deepEqual([md.special, md.accumulate, md.applicability, md.byDefault], [true, true, 'all', true]);
  assert.deepEqual(
    fs.features.filter((f) => f.accumulate).map((f) => f.name),
    ['NO_LMSL', 'MD_CLEAR', 'FS_GS_NS', 'VERW_CLEAR', 'FB_CLEAR', 'RFDS_CLEAR'],
  );
});

test('xen-cpuid: every policy of a sample host file, with header counts kept', () => {
  const all = readPolicyFile(samplePolicyPath('intel-skylake-sp.txt'));
  assert.deepEqual(all.map((p) => p.name), ['Host', 'PV Max', 'HVM Max', 'PV Default', 'HVM Default']);
  const host = all[0]!;
  assert.equal(host.declaredLeaves, 34);
  assert.equal(host.policy.cpuid.length, 19);
  assert.deepEqual(host.policy.leaf(1), { leaf: 1, subleaf: 0xffffffff, eax: 0x50654, ebx: 0x400800, ecx: 0x77fefbff, edx: 0xbfebfbff });
  assert.deepEqual(host.policy.msrs, [
    { index: 0xce, flags: 0, value: 0x80000000n },
    { index: 0x10a, flags: 0, value: 0n },
  ]);
});

test('xen-cpuid: parsed and printed again, every sample file is byte for byte what it was', () => {
  for (const file of [...SAMPLE_HOSTS.map((h) => `${h}.txt`), 'sample-guest-hvm.txt', 'sample-guest-pv.txt']) {
    const text = readFileSync(samplePolicyPath(file), 'utf8');
    const body = text.split('\n').filter((l) => !l.startsWith('#') && !l.startsWith('Xen reports')).join('\n');
    assert.equal(formatXenCpuidPolicies(parseXenCpuid(text)), body, file);
  }
});

test('xen-cpuid: the exact print format, skipping empty leaves but counting them', () => {
  const p = new CpuPolicy(
    [
      { leaf: 0, subleaf: 0xffffffff, eax: 0xd, ebx: 1, ecx: 2, edx: 3 },
      { leaf: 2, subleaf: 0xffffffff, eax: 0, ebx: 0, ecx: 0, edx: 0 },
    ],
    [{ index: 0x10a, flags: 0, value: 0xabn }],
  );
  assert.equal(
    formatXenCpuid(p, 'Domain 3'),
    'Domain 3 policy: 2 leaves, 1 MSRs\n' +
      ' CPUID:\n' +
      '  leaf     subleaf  -> eax      ebx      ecx      edx     \n' +
      '  00000000:ffffffff -> 0000000d:00000001:00000002:00000003\n' +
      ' MSRs:\n' +
      '  index    -> value           \n' +
      '  0000010a -> 00000000000000ab\n',
  );
});

test('xen-cpuid: tolerant of hand-edited text, and names both halves of ARCH_CAPABILITIES', () => {
  const all = parseXenCpuid(readFileSync(fixture('xen-cpuid-mixed.txt'), 'utf8'));
  assert.deepEqual(all.map((p) => [p.name, p.policy.cpuid.length, p.policy.msrs.length]), [
    ['Host', 2, 1],
    ['Domain 7', 2, 2],
  ]);
  const dom = all[1]!.policy;
  assert.equal(dom.vendor, 'Intel');
  assert.equal(dom.maxBasicLeaf, 0xd);
  assert.equal(dom.hasFeature('FSGSBASE'), true);
  const arch = summarizePolicy(dom).msrs.find((m) => m.index === '0x0000010a')!;
  assert.deepEqual(arch.bits, ['MDS_NO', 'TSX_CTRL', '<61>']);
});

test('xen-cpuid: a malformed line is a usage error naming file and line', () => {
  const path = fixture('bad-line.txt');
  assert.throws(() => readPolicyFile(path), (err: unknown) => {
    assert.ok(err instanceof UsageError);
    assert.equal(err.message, `${path}:3: expected a CPUID line "llllllll:ssssssss -> aaaaaaaa:bbbbbbbb:cccccccc:dddddddd", found "00000000:ffffffff -> 0000000d:756e6547"`);
    return true;
  });
});

test('JSON: policies survive a round trip exactly, 64-bit MSR values included', () => {
  const all = readPolicyFile(samplePolicyPath('intel-icelake-sp.txt'));
  const text = JSON.stringify(policiesToJson(all.map((p) => ({ ...p, decoded: summarizePolicy(p.policy) }))));
  const back = parsePolicyText(text, 'x.json');
  assert.deepEqual(back.map((p) => p.name), all.map((p) => p.name));
  back.forEach((p, i) => assert.deepEqual(p.policy.toData(), all[i]!.policy.toData()));
  const big = parsePolicyJson('{"cpuid":[],"msrs":[{"index":"0x10a","value":"0xffffffffffffffff"}]}');
  assert.equal(big[0]!.policy.msr(0x10a), 0xffffffffffffffffn);
  assert.throws(() => parsePolicyJson('{"policies":[{"cpuid":[{"leaf":"zz"}]}]}', 'p.json'), /p\.json: policy "Policy 0" cpuid\[0\]\.leaf: expected a 32-bit number/);
});

test('selecting a policy: by name, by guest type, or the only one', () => {
  const path = samplePolicyPath('amd-zen3-milan.txt');
  assert.equal(loadPolicyFile(path, { guestType: 'pv' }).name, 'PV Max');
  assert.equal(loadPolicyFile(path, { guestType: 'hvm' }).name, 'HVM Max');
  assert.equal(loadPolicyFile(path, { policyName: 'hvm  default' }).name, 'HVM Default');
  assert.throws(() => loadPolicyFile(path), /holds 5 policies \("Host", "PV Max", "HVM Max", "PV Default", "HVM Default"\); choose one with --policy/);
  assert.equal(loadPolicyFile(samplePolicyPath('sample-guest-pv.txt')).name, 'Domain 2');
  assert.throws(() => selectPolicy([], {}, 'empty'), /empty: holds no policy/);
});

test('decoded views of the sample guests', () => {
  const hvm = sampleGuestPolicy('hvm');
  assert.deepEqual(hvm.signature, { family: 6, model: 0x55, stepping: 4 });
  assert.equal(hvm.vendor, 'Intel');
  assert.equal(hvm.xsave.xcr0, 0x2e7n);
  assert.equal(hvm.xsave.maxSize, 2696);
  assert.deepEqual(hvm.xsave.components.map((c) => [c.name, c.size, c.offset]), [
    ['AVX', 256, 576], ['OPMASK', 64, 1088], ['ZMM_Hi256', 512, 1152], ['Hi16_ZMM', 1024, 1664], ['PKRU', 8, 2688],
  ]);
  assert.equal(summarizePolicy(hvm).brand, 'Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz');
  assert.equal(inferGuestType(hvm), 'hvm');
  assert.equal(inferGuestType(sampleGuestPolicy('pv')), 'pv');
  const zen3 = loadPolicyFile(samplePolicyPath('amd-zen3-milan.txt'), { policyName: 'Host' }).policy;
  assert.deepEqual(zen3.signature, { family: 0x19, model: 1, stepping: 1 });
});
