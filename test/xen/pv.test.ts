/**
 * PV guests between xenmig and Debian's real libxc 4.17, through the hypervisor double:
 * - streams real xc_domain_save writes of a 64-bit PV domain (non-live, live with the guest
 *   dirtying pages, 2 vcpus, --debug) pass Xen's verify-stream-v2 and `xenmig verify`, and
 *   `xenmig restore` gives the memory real xc_domain_restore gives;
 * - xenmig's PV streams (v2, v3, 1-4 vcpus, live, debug, xl unwrapped) restore in real libxc;
 * - the double's Xen checks refuse what Xen refuses (page-table validation, cr3, ext context).
 *
 * Memory is compared by pfn: the double's dump --by-pfn gives page tables with pfns (as the
 * stream carries them, Xen's L4 slots cleared). libxc's restore rewrites the guest's P2M frames
 * (new mfns) and start info (store/console mfn and evtchn, nr_pages, shared_info, flags); those
 * pages are checked as libxc writes them, every other page must be equal.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tmpDirFor } from '../support/tmp.js';
import { assertClean, double, imageMemory, records, replaceRecord, xenmigOk, type Memory, type Rec } from '../support/xen-tools.js';
import { buildXenDouble, runXenDouble, verifyStreamV2, xenDoubleGate } from '../support/xen-double.js';
import { decodeExtVcpuContext, decodePvMsrs, decodePvVcpuContext, decodePvXsave, decodeSharedInfo, pvVcpuRegisters } from '../../src/format/pv/index.js';

const PAGE = 4096;
const MIB = 16;
const MFN_BASE = 0x100000n;
const SHINFO_MFN = 0x3000n;
const REC_PAGE_DATA = 0x1;
const REC_VERIFY = 0xd;
const REC_X86_PV_VCPU_BASIC = 0x4;
const REC_X86_PV_VCPU_EXTENDED = 0x5;

interface PvDump {
  populatedRanges: [number, number][];
  grantEntries: { flags: number; domid: number; frame: number }[];
  pv: { startInfoPfn: number; maxPfn: number; cr3: number[]; pageTables: [number, number, number][] };
}

async function dumpByPfn(dir: string, raw: string): Promise<{ json: PvDump; memory: Memory }> {
  const json = JSON.parse(await double(dir, ['dump', '--raw', raw, '--by-pfn', '--json'])) as PvDump;
  return { json, memory: { raw, runs: json.populatedRanges } };
}

/** Real xc_domain_restore of a bare libxc PV stream into a fresh double domain. */
async function realRestore(work: string, name: string, stream: string, vcpus: number) {
  const dir = join(work, `${name}.dom`);
  mkdirSync(dir);
  const r = await runXenDouble(dir, ['restore', '--in', stream, '--pv', '--memory', String(MIB), '--vcpus', String(vcpus)]);
  assert.equal(r.code, 0, `real xc_domain_restore of ${name} failed: ${r.stderr}`);
  const answer = JSON.parse(r.stdout) as { rc: number; missing: number; storeGfn: number; consoleGfn: number };
  return { answer, ...(await dumpByPfn(dir, join(work, `${name}.real.raw`))) };
}

interface Image {
  memory: Memory;
  p2mPfns: number[];
  endPfn: number;
}

/** What `xenmig restore --into DIR` wrote: memory.raw, populated runs, the P2M frames. */
async function image(dir: string): Promise<Image> {
  const { memory, p2m } = await imageMemory(dir);
  assert.ok(p2m, `${dir} has P2M frames`);
  return { memory, p2mPfns: p2m.p2mPfns.map(Number), endPfn: p2m.endPfn };
}

function readPage(raw: string, pfn: number): Buffer {
  const fd = openSync(raw, 'r');
  try {
    const b = Buffer.alloc(PAGE);
    readSync(fd, b, 0, PAGE, pfn * PAGE);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** struct start_info (x86_64) offsets libxc's process_start_info() rewrites. */
const SI = { nrPages: 32, sharedInfo: 40, flags: 48, storeMfn: 56, storeEvtchn: 64, consoleMfn: 72, consoleEvtchn: 80 } as const;

/**
 * xenmig's pfn-addressed image against the real restore's by-pfn dump: same pfns; every page
 * equal but the P2M frames (libxc writes pfn + MFN_BASE for each pfn, the rest of the last frame
 * untouched) and the start info page (libxc's fields as below, every other octet equal).
 */
function assertPvMemory(img: Image, real: { json: PvDump; memory: Memory }, what: string): void {
  assert.deepEqual(img.memory.runs, real.memory.runs, `${what}: populated pfns`);
  const si = real.json.pv.startInfoPfn;
  const p2m = new Set(img.p2mPfns);
  const differ: number[] = [];
  for (const [first, count] of img.memory.runs) {
    for (let pfn = first; pfn < first + count; pfn++) {
      if (pfn === si || p2m.has(pfn)) continue;
      if (!readPage(img.memory.raw, pfn).equals(readPage(real.memory.raw, pfn))) differ.push(pfn);
    }
  }
  assert.deepEqual(differ.slice(0, 8).map((p) => '0x' + p.toString(16)), [], `${what}: ${differ.length} page(s) differ`);

  // The P2M as libxc's update_guest_p2m() writes it.
  img.p2mPfns.forEach((framePfn, i) => {
    const got = readPage(real.memory.raw, framePfn);
    const was = readPage(img.memory.raw, framePfn);
    for (let j = 0; j < PAGE / 8; j++) {
      const pfn = i * (PAGE / 8) + j;
      const want = pfn <= img.endPfn ? BigInt(pfn) + MFN_BASE : was.readBigUInt64LE(j * 8);
      assert.equal(got.readBigUInt64LE(j * 8), want, `${what}: P2M entry for pfn 0x${pfn.toString(16)}`);
    }
  });

  // The start info as process_start_info() leaves it.
  const got = readPage(real.memory.raw, si);
  const was = Buffer.from(readPage(img.memory.raw, si));
  const store = was.readBigUInt64LE(SI.storeMfn);
  const cons = was.readBigUInt64LE(SI.consoleMfn);
  was.writeBigUInt64LE(BigInt(img.endPfn + 1), SI.nrPages);
  was.writeBigUInt64LE(SHINFO_MFN << 12n, SI.sharedInfo);
  was.writeUInt32LE(0, SI.flags);
  was.writeBigUInt64LE(store + MFN_BASE, SI.storeMfn);
  was.writeUInt32LE(1, SI.storeEvtchn);
  was.writeBigUInt64LE(cons + MFN_BASE, SI.consoleMfn);
  was.writeUInt32LE(2, SI.consoleEvtchn);
  assert.ok(got.equals(was), `${what}: start info as libxc rewrites it`);
  // The grant table seeded for the console (0) and xenstore (1) by machine frame.
  assert.deepEqual(real.json.grantEntries, [
    { flags: 1, domid: 0, frame: Number(cons + MFN_BASE) },
    { flags: 1, domid: 0, frame: Number(store + MFN_BASE) },
  ]);
}

/** Where pfn's data sits in the PAGE_DATA records, and its type entry. */
function findPage(buf: Buffer, pfn: number): { data: number; entry: number } {
  for (const r of records(buf)) {
    if (r.type !== REC_PAGE_DATA) continue;
    const count = buf.readUInt32LE(r.offset + 8);
    let data = r.offset + 16 + 8 * count;
    for (let i = 0; i < count; i++) {
      const entry = r.offset + 16 + 8 * i;
      const v = buf.readBigUInt64LE(entry);
      const type = Number(v >> 60n);
      if (Number(v & ((1n << 52n) - 1n)) === pfn && type !== 0xf) return { data, entry };
      if (type !== 0xf && type !== 0xe) data += PAGE; // XTAB and BROKEN carry no data
    }
  }
  assert.fail(`pfn ${pfn} not in the stream`);
}

const gate = xenDoubleGate();

if (gate.skip) test('PV streams between xenmig and Xen 4.17', { skip: gate.skip }, () => {});
else describe('PV streams between xenmig and Xen 4.17', () => {
  before(async () => {
    await buildXenDouble();
  });

  const xenCases = [
    { name: 'non-live', save: [] as string[], vcpus: 1 },
    { name: 'live, 2 vcpus, dirtying', save: ['--live', '--dirty', '64'], vcpus: 2 },
    { name: 'live --debug', save: ['--live', '--debug', '--dirty', '16'], vcpus: 1 },
  ];
  for (const c of xenCases) {
    test(`real xc_domain_save of a PV domain (${c.name}): verify-stream-v2 and xenmig verify pass, xenmig restores what Xen restores`, async (t) => {
      const work = tmpDirFor(t, 'xenmig-pv-');
      const src = join(work, 'src');
      mkdirSync(src);
      await double(src, ['create', '--pv', '--memory', String(MIB), '--vcpus', String(c.vcpus), '--seed', '41']);
      const stream = join(work, 'xen.stream');
      await double(src, ['save', '--out', stream, ...c.save]);
      const v = await verifyStreamV2(stream);
      assert.equal(v.code, 0, `verify-stream-v2: ${v.stdout}${v.stderr}`);
      assertClean(xenmigOk(['verify', stream]));
      if (c.save.includes('--debug')) assert.equal(records(readFileSync(stream)).filter((r) => r.type === REC_VERIFY).length, 1);

      const saved = await dumpByPfn(src, join(work, 'saved.raw'));
      assert.deepEqual(saved.json.pv.pageTables[0], [1, 4, 1], 'the L4 is pfn 1, pinned');

      const imgDir = join(work, 'image');
      xenmigOk(['restore', stream, '--into', imgDir, '--quiet']);
      const img = await image(imgDir);
      const real = await realRestore(work, 'xen', stream, c.vcpus);
      assert.equal(real.answer.rc, 0);
      assert.equal(real.answer.missing, 0);
      assert.deepEqual(real.json.pv.pageTables, saved.json.pv.pageTables, 'the same page tables, the L4 pinned');
      assert.equal(real.json.pv.cr3.length, c.vcpus);
      assertPvMemory(img, real, 'xenmig restore vs real xc_domain_restore');
      const srcPages = readPage(saved.memory.raw, 0x100);
      assert.ok(srcPages.equals(readPage(img.memory.raw, 0x100)), 'a data page as the source had it');
    });
  }

  test('the PV vcpu records and shared info real xc_domain_save writes decode into what the guest had', async (t) => {
    const work = tmpDirFor(t, 'xenmig-pv-');
    const src = join(work, 'src');
    mkdirSync(src);
    await double(src, ['create', '--pv', '--memory', String(MIB), '--vcpus', '2', '--seed', '41']);
    const path = join(work, 'xen.stream');
    await double(src, ['save', '--out', path]);
    const buf = readFileSync(path);
    const body = (r: Rec): Uint8Array => new Uint8Array(buf.buffer, buf.byteOffset + r.offset + 8, r.length);
    const of = (type: number) => records(buf).filter((r) => r.type === type).map(body);
    const basics = of(0x4);
    assert.equal(basics.length, 2);
    for (const b of basics) {
      const id = new DataView(b.buffer, b.byteOffset).getUint32(0, true);
      const regs = pvVcpuRegisters(id, decodePvVcpuContext(b.subarray(8), 8));
      assert.equal(regs.mode, 'long');
      assert.equal(regs.online, true);
      assert.equal(regs.rip, 0xffffffff81000000n + BigInt((41 % 4096) * 16 + id * 0x40));
      assert.equal(regs.rsp, 0xffffffff80800000n - BigInt(id) * 0x4000n);
      assert.equal(regs.cr0 & 0x80000001n, 0x80000001n);
      assert.equal(regs.cr3, 1n << 12n, 'cr3 names the L4 by pfn (libxc normalises the mfn)');
      assert.equal(regs.kernelGsBase, 0xffff888000000000n + BigInt(id) * 0x200000n);
      assert.equal(regs.cs.selector & 0xfffc, 0xe030);
    }
    const ext = decodeExtVcpuContext(of(0x5)[0]!.subarray(8));
    assert.equal(ext.vcpu, 0);
    const xsave = of(0x6);
    if (xsave.length) assert.equal(decodePvXsave(xsave[0]!.subarray(8)).xcr0 & 1n, 1n);
    const msrs = of(0xc);
    if (msrs.length) assert.deepEqual(decodePvMsrs(msrs[0]!.subarray(8)).map((m) => [m.name, m.value]), [['SPEC_CTRL', 1n]]);
    const shinfo = decodeSharedInfo(of(0x7)[0]!, 8);
    assert.equal(shinfo.fields.max_pfn, BigInt(MIB * 256));
  });

  const ours = [
    { name: 'v3, 1 vcpu', save: ['--format', 'libxc', '--vcpus', '1'], vcpus: 1, missing: 0 },
    { name: 'v2, 2 vcpus', save: ['--format', 'libxc', '--stream-version', '2', '--vcpus', '2'], vcpus: 2, missing: 3 },
    { name: 'v3, 3 vcpus', save: ['--format', 'libxc', '--vcpus', '3'], vcpus: 3, missing: 0 },
    { name: 'v3 xl, 4 vcpus', save: ['--format', 'xl', '--vcpus', '4'], vcpus: 4, missing: 0 },
    { name: 'v3 live with a workload', save: ['--format', 'libxc', '--vcpus', '2', '--live', '--dirty-rate', '20000'], vcpus: 2, missing: 0 },
    { name: 'v3 --debug', save: ['--format', 'libxc', '--vcpus', '1', '--debug'], vcpus: 1, missing: 0 },
  ];
  for (const c of ours) {
    test(`xenmig's PV stream (${c.name}): real xc_domain_restore takes it, with xenmig's memory`, async (t) => {
      const work = tmpDirFor(t, 'xenmig-pv-');
      const saved = join(work, 'ours.stream');
      xenmigOk(['save', '--pv', '--memory', String(MIB), '--seed', '7', ...c.save, saved]);
      assertClean(xenmigOk(['verify', saved]));
      const bare = join(work, 'ours.libxc');
      xenmigOk(['convert', '--unwrap', saved, bare, '--quiet']);
      const imgDir = join(work, 'image');
      xenmigOk(['restore', saved, '--into', imgDir, '--quiet']);
      const real = await realRestore(work, 'ours', bare, c.vcpus);
      assert.equal(real.answer.rc, 0);
      assert.equal(real.answer.missing, c.missing);
      assertPvMemory(await image(imgDir), real, 'xenmig restore vs real xc_domain_restore');
    });
  }

  describe('the double refuses what Xen 4.17 refuses', () => {
    after(() => rmSync(work, { recursive: true, force: true }));
    let stream: Buffer;
    let work = '';
    let n = 0;
    before(() => {
      work = mkdtempSync(join(tmpdir(), 'xenmig-pv-neg-'));
      const s = join(work, 'ours.stream');
      xenmigOk(['save', '--pv', '--memory', String(MIB), '--seed', '9', '--format', 'libxc', '--vcpus', '1', s]);
      stream = readFileSync(s);
    });

    async function restoreBad(buf: Buffer): Promise<string> {
      const f = join(work, `bad${++n}.stream`);
      writeFileSync(f, buf);
      const dir = join(work, `bad${n}.dom`);
      mkdirSync(dir);
      const r = await runXenDouble(dir, ['restore', '--in', f, '--pv', '--memory', String(MIB), '--vcpus', '1']);
      assert.equal(r.code, 1, `the restore should fail: ${r.stdout}${r.stderr}`);
      return r.stderr;
    }

    test('an L1 entry with a cache attribute (PCD) fails get_page_from_l1e: cr3 refused', async () => {
      const buf = Buffer.from(stream);
      const { data } = findPage(buf, 4); // the first L1
      buf.writeBigUInt64LE(buf.readBigUInt64LE(data + 0x100 * 8) | 0x10n, data + 0x100 * 8);
      const err = await restoreBad(buf);
      assert.match(err, /Bad L1 flags 10/);
      assert.match(err, /Failed to set vcpu0's basic info/);
    });

    test('a writable mapping of a page-table page (the L4) is refused', async () => {
      const buf = Buffer.from(stream);
      const { data } = findPage(buf, 4);
      buf.writeBigUInt64LE(buf.readBigUInt64LE(data + 1 * 8) | 0x2n, data + 1 * 8); // L1[1] maps pfn 1, the L4
      const err = await restoreBad(buf);
      assert.match(err, /Bad type \(saw 4 != exp 7\)|Bad type \(saw 7 != exp 4\)/);
      assert.match(err, /Failed to set vcpu0's basic info/);
    });

    test('cr3 naming a page that does not validate as an L4 (the L3, retyped L4 in the stream) is refused', async () => {
      let buf = Buffer.from(stream);
      const { entry } = findPage(buf, 2);
      buf.writeBigUInt64LE((buf.readBigUInt64LE(entry) & ((1n << 60n) - 1n)) | (4n << 60n), entry); // L4TAB, not pinned
      const rec = records(buf).find((r) => r.type === REC_X86_PV_VCPU_BASIC);
      assert.ok(rec);
      const cr3 = rec.offset + 8 + 8 + 4984 + 3 * 8; // record header, vcpu header, ctrlreg[3]
      buf.writeBigUInt64LE(2n << 12n, cr3);
      buf = Buffer.from(buf);
      const err = await restoreBad(buf);
      assert.match(err, /arch_set_info_guest: cr3 mfn 100002 refused as an L4/);
    });

    test('an EXTENDED blob of 128 octets of garbage is refused by set_ext_vcpucontext', async () => {
      const rec = records(stream).find((r) => r.type === REC_X86_PV_VCPU_EXTENDED);
      assert.ok(rec);
      const body = Buffer.concat([Buffer.alloc(8), Buffer.alloc(128, 0xa5)]); // vcpu 0 header, garbage
      const err = await restoreBad(replaceRecord(stream, rec, body));
      assert.match(err, /set_ext_vcpucontext: no vcpu 2779096485/);
      assert.match(err, /Failed to set vcpu0's extended info/);
    });
  });
});
