import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { samplePolicyPath } from '../../src/policy/index.js';
import { T, concat, libxcHeaders, pageDataBody, rec } from '../support/builder.js';
import { tmpDirFor } from '../support/tmp.js';

const BIN = fileURLToPath(new URL('../../../bin/xenmig', import.meta.url));
const SKX = samplePolicyPath('intel-skylake-sp.txt');
const ICX = samplePolicyPath('intel-icelake-sp.txt');
const ROME = samplePolicyPath('amd-zen2-rome.txt');
const GUEST = samplePolicyPath('sample-guest-hvm.txt');

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('compat: compatible exits 0', () => {
  const r = run('compat', GUEST, '--host', ICX);
  assert.equal(r.code, 0);
  assert.equal(r.out, `compatible: the HVM guest can run on ${ICX} (HVM Max)\n`);
});

test('compat: not compatible exits 1 and lists every reason', () => {
  const r = run('compat', ICX, '--guest-policy', 'HVM Default', '--host', SKX);
  assert.equal(r.code, 1);
  const lines = r.out.trimEnd().split('\n');
  assert.equal(lines[0], `not compatible: the HVM guest cannot run on ${SKX} (HVM Max); 19 reason(s):`);
  assert.equal(lines.length, 20);
  // Skylake-SP's Max policies no longer offer RRSBA without EIBRS (Xen never does).
  assert.ok(lines.includes('  - MSR_ARCH_CAPABILITIES bit 19 RRSBA (featureset word 16 bit 19): the guest sees it, the host lacks it'));
  assert.ok(lines.includes('  - feature AVX512_VBMI (word 6 bit 1, CPUID 0x00000007:0.ecx): the guest sees it, the host cannot offer it'));
  const json = JSON.parse(run('compat', ICX, '--guest-policy', 'HVM Default', '--host', SKX, '--json').out);
  assert.equal(json.compatible, false);
  assert.equal(json.reasons.length, 19);
  assert.equal(json.hostPolicy, 'HVM Max');
});

test('compat: usage and I/O trouble exit 2 with one line', () => {
  const missing = run('compat', GUEST, '--host', '/nonexistent/policy');
  assert.equal(missing.code, 2);
  assert.equal(missing.err.trim().split('\n').length, 1);
  const several = run('compat', SKX, '--host', ICX);
  assert.equal(several.code, 2);
  assert.match(several.err, /holds 5 policies .*choose one with --policy/);
  assert.equal(run('compat', GUEST).code, 2);
});

test('compat: a stream without a policy gets the honest answer, exit 0 and a warning', (t) => {
  const dir = tmpDirFor(t, 'xenmig-cli-');
  const path = join(dir, 'v2.libxc');
  writeFileSync(path, concat(libxcHeaders({ version: 2 }), rec(T.PAGE_DATA, pageDataBody([{ pfn: 0 }])), rec(T.END)));
  const r = run('compat', path, '--host', SKX);
  assert.equal(r.code, 0);
  assert.equal(r.out, 'no policy in the stream; the destination will regenerate one\n');
  assert.match(r.err, /warning: .*no policy in the stream; the destination will regenerate one; compatibility not checked/);
});

test('compat --matrix: first blocking reason per cell', () => {
  const PV = samplePolicyPath('sample-guest-pv.txt');
  const r = run('compat', '--matrix', GUEST, PV, '--hosts', SKX, ROME);
  assert.equal(r.code, 1);
  const rows = r.out.trimEnd().split('\n').map((l) => l.split(/ {2,}/));
  assert.deepEqual(rows, [
    ['guest \\ host', SKX, ROME],
    [GUEST, 'yes', 'no: vendor Intel vs AMD (+26)'],
    [PV, 'yes', 'no: vendor Intel vs AMD (+19)'],
  ]);
  const ok = run('compat', '--matrix', GUEST, PV, '--hosts', SKX, ICX);
  assert.equal(ok.code, 0);
});

test('policy level: output is a policy file that compat accepts, for every host', (t) => {
  const dir = tmpDirFor(t, 'xenmig-cli-');
  for (const json of [false, true]) {
    const r = run('policy', 'level', SKX, ICX, ...(json ? ['--json'] : []));
    assert.equal(r.code, 0, r.err);
    const path = join(dir, json ? 'l.json' : 'l.txt');
    writeFileSync(path, r.out);
    if (!json) assert.match(r.out, /^Levelled policy: \d+ leaves, 2 MSRs\n CPUID:\n/);
    for (const host of [SKX, ICX]) assert.equal(run('compat', path, '--host', host).code, 0);
  }
  const mixed = run('policy', 'level', SKX, ROME);
  assert.equal(mixed.code, 1);
  assert.match(mixed.err, /cannot level hosts of different vendors \(Intel, AMD\)/);
});

test('policy show: features grouped by word; JSON carries the decoded view', () => {
  const r = run('policy', 'show', GUEST);
  assert.equal(r.code, 0);
  assert.match(r.out, /^Domain 1 policy: Intel \(GenuineIntel\), family 6 \(0x6\) model 85 \(0x55\) stepping 4\n/);
  assert.match(r.out, /\n {4}\[06\] CPUID 0x00000007:0\.ecx +0x00000008 {2}PKU\n/);
  assert.match(r.out, /\n {4}MSR_ARCH_CAPABILITIES \(0x0000010a\) = 0x0000000000000004: RSBA\n/);
  const j = JSON.parse(run('policy', 'show', SKX, '--policy', 'HVM Max', '--json').out);
  assert.equal(j.policies.length, 1);
  assert.equal(j.policies[0].decoded.vendor, 'Intel');
  assert.ok(j.policies[0].decoded.words[5].features.includes('MPX'));
  assert.equal(readFileSync(GUEST, 'utf8').includes('Domain 1 policy'), true);
});
