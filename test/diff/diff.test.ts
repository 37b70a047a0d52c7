/**
 * `diff`: streams and memory images compared as the domains they restore to. Small streams
 * come from the byte builders (one difference each); the live, Remus and stdin cases run
 * the command on streams `xenmig save` writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diffInputs } from '../../src/diff/index.js';
import { hvmParamName } from '../../src/format/hvm-params.js';
import { concat, cpuidBody, hvmContextBody, hvmParamsBody, libxcHeaders, msrBody, pageDataBody, pageFor, rec, T, tscBody } from '../support/builder.js';
import { tmpDirFor } from '../support/tmp.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/xenmig');

function xenmig(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, maxBuffer: 1 << 26 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const NO_SUBLEAF = 0xffffffff;
/** Leaf 1 ecx: SSE3 SSSE3 SSE4.1 SSE4.2 POPCNT XSAVE; AVX is bit 28. */
const ECX = 0x1 | 0x200 | 0x80000 | 0x100000 | 0x800000 | 0x4000000;
const AVX = 1 << 28;

interface HvmOpts {
  /** PAGE_DATA records, each a list of [pfn, seed] (type NOTAB) or [pfn, seed, type]. */
  records?: [number, number, number?][][];
  params?: [bigint, bigint][];
  ecx?: number;
  rip?: bigint;
}

/** A v3 HVM libxc stream as libxc orders it, with the given memory, params, leaf 1 ecx and vcpu 0 rip. */
function hvm(o: HvmOpts = {}): Uint8Array {
  const records = o.records ?? [[[0, 0], [1, 0], [2, 0], [3, 0]], [[8, 0], [9, 0]]];
  const context = hvmContextBody(1);
  new DataView(context.buffer).setBigUint64(40 + 640, o.rip ?? 0xfff0n, true);
  return concat(
    libxcHeaders({ version: 3 }),
    rec(T.X86_CPUID_POLICY, cpuidBody([[0, NO_SUBLEAF, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69], [1, NO_SUBLEAF, 0x906ea, 0, o.ecx ?? ECX, 0x078bfbff]])),
    rec(T.X86_MSR_POLICY, msrBody([[0xce, 0, 0x80000000n]])),
    rec(T.STATIC_DATA_END),
    ...records.map((r) => rec(T.PAGE_DATA, pageDataBody(r.map(([pfn, seed, type]) => ({ pfn, type: type ?? 0, page: pageFor(pfn, seed) }))))),
    rec(T.X86_TSC_INFO, tscBody()),
    rec(T.HVM_CONTEXT, context),
    rec(T.HVM_PARAMS, hvmParamsBody(o.params ?? [[19n, 1n], [36n, 8n]])),
    rec(T.END),
  );
}

async function files(dir: string, streams: Record<string, Uint8Array>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(streams)) await writeFile((out[name] = join(dir, name)), bytes);
  return out;
}

test('one difference at a time: a page, a param, a CPU feature, a vcpu register, pages only on one side, a page type; the same stream twice is equal', async (t) => {
  const f = await files(tmpDirFor(t), {
    base: hvm(),
    page: hvm({ records: [[[0, 0], [1, 5], [2, 0], [3, 0]], [[8, 0], [9, 0]]] }),
    param: hvm({ params: [[19n, 1n], [36n, 4n], [2n, 1n]] }),
    avx: hvm({ ecx: ECX | AVX }),
    rip: hvm({ rip: 0xffffffff81000000n }),
    more: hvm({ records: [[[0, 0], [1, 0], [2, 0], [3, 0]], [[8, 0], [9, 0], [10, 0], [11, 0], [20, 0, 1]]] }),
    typed: hvm({ records: [[[0, 0], [1, 0], [2, 0], [3, 0]], [[8, 0], [9, 0, 1]]] }),
  });
  const same = await diffInputs(f.base!, f.base!);
  assert.equal(same.equal, true);
  assert.equal(same.memory.populatedA, 6);

  const page = await diffInputs(f.base!, f.page!);
  assert.equal(page.equal, false);
  assert.deepEqual([page.memory.differ.count, page.memory.differ.ranges], [1, [[1, 1]]]);
  assert.equal(page.hvmContext.length + page.hvmParams.length + page.policy.changes.length, 0);

  const param = await diffInputs(f.base!, f.param!);
  assert.deepEqual(param.hvmParams, [{ what: hvmParamName(2), b: '0x1' }, { what: 'X87_FIP_WIDTH', a: '0x8', b: '0x4' }]);
  assert.equal(param.memory.differ.count, 0);

  const avx = await diffInputs(f.base!, f.avx!);
  assert.deepEqual([avx.policy.gained, avx.policy.lost], [['AVX'], []]);
  assert.deepEqual(avx.policy.changes, [{ what: 'CPUID 0x1:0xffffffff ecx', a: `0x${ECX.toString(16)}`, b: `0x${(ECX | AVX).toString(16)}` }]);
  const back = await diffInputs(f.avx!, f.base!);
  assert.deepEqual([back.policy.gained, back.policy.lost], [[], ['AVX']]);

  const rip = await diffInputs(f.base!, f.rip!);
  assert.deepEqual(rip.hvmContext, [{ record: 'CPU instance 0', changes: [{ what: 'rip', a: '0xfff0', b: '0xffffffff81000000' }] }]);

  const more = await diffInputs(f.more!, f.base!, { rangeLimit: 1 });
  assert.deepEqual([more.memory.onlyInA.count, more.memory.onlyInA.ranges, more.memory.onlyInA.rangeCount], [3, [[10, 11]], 2]);
  const all = await diffInputs(f.more!, f.base!, { allPages: true });
  assert.deepEqual(all.memory.onlyInA.pfns, [10, 11, 20]);

  const typed = await diffInputs(f.base!, f.typed!);
  assert.deepEqual(typed.memory.types, { count: 1, ranges: [{ first: 9, last: 9, a: 'NOTAB', b: 'L1TAB' }], rangeCount: 1 });
  assert.equal(typed.memory.differ.count, 0);
});

test('a live stream (a pfn sent twice, XTAB, rounds) equals a non-live one of the same final state in another order; a stream equals its restored image', async (t) => {
  const d = tmpDirFor(t);
  const f = await files(d, {
    live: hvm({ records: [[[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]], [[1, 1], [4, 0, 0xf]], [[3, 2]]] }),
    still: hvm({ records: [[[3, 2], [1, 1]], [[2, 0], [0, 0]]] }),
  });
  const r = await diffInputs(f.live!, f.still!);
  assert.equal(r.equal, true, JSON.stringify(r.memory));
  const img = xenmig(['restore', f.live!, '--into', join(d, 'img'), '--quiet']);
  assert.equal(img.code, 0, img.stderr);
  const withImage = await diffInputs(f.still!, join(d, 'img'));
  assert.equal(withImage.equal, true, JSON.stringify(withImage, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  assert.equal(withImage.b.kind, 'image');
});

test('xenmig diff: exit 0 equal, 1 different (text, --json, --pages), 2 for bad input naming the file and offset; stdin', async (t) => {
  const d = tmpDirFor(t);
  const f = await files(d, { a: hvm(), b: hvm({ records: [[[0, 0], [1, 5], [2, 0], [3, 0]], [[8, 7], [9, 7]]], rip: 0x1234n }) });
  const eq = xenmig(['diff', f.a!, '-'], await readFile(f.a!));
  assert.equal(eq.code, 0, eq.stderr);
  assert.match(eq.stdout, /^A: .*\/a \(stream: libxc, HVM, libxc v3, Xen 4\.19\)\nB: standard input \(stream: libxc, HVM/);
  assert.match(eq.stdout, /memory: 6 page\(s\) in A, 6 in B, every page the same\nresult: equal\n$/);
  const ne = xenmig(['diff', f.a!, f.b!]);
  assert.equal(ne.code, 1, ne.stderr);
  assert.match(ne.stdout, /HVM context:\n {2}CPU instance 0:\n {4}rip: 0xfff0 -> 0x1234\n/);
  assert.match(ne.stdout, /\n {2}3 page\(s\) differ: 0x1 0x8-0x9\n/);
  assert.match(ne.stdout, /result: different\n$/);
  const js = xenmig(['diff', '--json', '--pages', f.a!, f.b!]);
  assert.equal(js.code, 1);
  assert.deepEqual(JSON.parse(js.stdout).memory.differ.pfns, [1, 8, 9]);
  const pages = xenmig(['diff', '--pages', f.a!, f.b!]);
  assert.match(pages.stdout, /differing pfns: 0x1 0x8 0x9\n/);

  const bytes = await readFile(f.a!);
  await writeFile(join(d, 'cut'), bytes.subarray(0, bytes.length - 5000));
  const bad = xenmig(['diff', f.a!, join(d, 'cut')]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^xenmig: diff: .*\/cut: offset \d+ \(0x[0-9a-f]+\), libxc, record #\d+, PAGE_DATA: .*truncated.*\n$/);
  assert.equal(xenmig(['diff', f.a!, join(d, 'missing')]).code, 2);
  const twice = xenmig(['diff', '-', '-'], bytes);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /only one of the two inputs can be standard input/);
  assert.equal(xenmig(['diff', '--checkpoint', '0', f.a!, f.b!]).code, 2);
});

test('streams xenmig saves: live with a workload vs the same state saved again from its image (equal); xl vs libxc wrapping; Remus checkpoints', async (t) => {
  const d = tmpDirFor(t);
  const live = join(d, 'live.xl');
  const s = xenmig(['save', '--memory', '8', '--live', '--dirty-rate', '3000', '--max-rounds', '3', '--format', 'xl', '--quiet', live]);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(xenmig(['restore', live, '--into', join(d, 'img'), '--quiet']).code, 0);
  assert.equal(xenmig(['save', '--domain', join(d, 'img'), '--format', 'xl', '--quiet', join(d, 'again.xl')]).code, 0);
  const r = xenmig(['diff', live, join(d, 'again.xl')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);

  const bare = join(d, 'bare');
  assert.equal(xenmig(['convert', '--unwrap', live, bare, '--quiet']).code, 0);
  const wrap = xenmig(['diff', live, bare]);
  assert.equal(wrap.code, 1);
  assert.match(wrap.stdout, /headers and versions:\n {2}layers: xl > libxl > libxc -> libxc\n/);
  assert.match(wrap.stdout, /memory: \d+ page\(s\) in A, \d+ in B, every page the same\n/);

  const remus = join(d, 'remus');
  const rs = xenmig(['save', '--memory', '4', '--dirty-rate', '4000', '--format', 'libxl', '--checkpoint-interval', '20', '--checkpoints', '3', '--quiet', remus]);
  assert.equal(rs.code, 0, rs.stderr);
  assert.equal(xenmig(['diff', '--checkpoint', '2', remus, remus]).code, 0);
  const c13 = xenmig(['diff', '--checkpoint', '1:3', remus, remus]);
  assert.equal(c13.code, 1, c13.stderr);
  assert.match(c13.stdout, /A: .* 1 checkpoint\(s\) applied\)\nB: .* 3 checkpoint\(s\) applied\)\n/);
  assert.match(c13.stdout, /\d+ page\(s\) differ: 0x/);
  assert.equal(xenmig(['restore', remus, '--checkpointed', '--into', join(d, 'last'), '--quiet']).code, 0);
  const last = xenmig(['diff', '--checkpointed', remus, join(d, 'last')]);
  assert.equal(last.code, 0, last.stdout + last.stderr);
  const fourth = xenmig(['diff', '--checkpoint', '4', remus, join(d, 'last')]);
  assert.equal(fourth.code, 0, fourth.stdout + fourth.stderr);
  assert.match(fourth.stdout, /\nnote \(B\): a memory image has one state; --checkpoint applies to the stream\n/);
  const beyond = xenmig(['diff', '--checkpoint', '9', remus, remus]);
  assert.equal(beyond.code, 2);
  assert.match(beyond.stderr, /has 4 complete checkpoint\(s\); --checkpoint 9 asks for more/);
});
