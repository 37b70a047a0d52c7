/**
 * Debian's real libxenguest 4.17 (xc_domain_save / xc_domain_restore) against
 * the hypervisor double in test/xen: streams it writes pass Xen's own
 * verify-stream-v2 and restore byte for byte; the double's Xen 4.17 checks refuse
 * a wrong CPU record length and an out-of-range HVM param.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, openSync, readFileSync, readSync, closeSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDirFor } from '../support/tmp.js';
import { records, replaceRecord, type Rec } from '../support/xen-tools.js';
import {
  buildXenDouble,
  runXenDouble,
  verifyStreamV2,
  xenDoubleGate,
} from '../support/xen-double.js';
import { checkHvmContext, decodeHvmContext, hvmContextRegisters } from '../../src/format/hvm/context.js';

const PAGE = 4096;
const MIB = 16;
const REC_PAGE_DATA = 0x1;
const REC_HVM_CONTEXT = 0x9;
const REC_HVM_PARAMS = 0xa;
const REC_VERIFY = 0xd;
const REC_X86_CPUID_POLICY = 0x11;
const REC_X86_MSR_POLICY = 0x12;
const XTAB = 0xf0000000;
const STORE_GFN = 0xfeffc;
const CONSOLE_GFN = 0xfefff;
/** 16 MiB from pfn 0 less the VGA hole (0xa0-0xbf), plus 8 special pages. */
const POPULATED = MIB * 256 - 32 + 8;

interface DumpJson {
  domid: number;
  populated: number;
  shutdown: number;
  shutdownReason: number;
  hvmParams: Record<string, string>;
  hvmContextLength: number;
  tsc: { mode: number; khz: number; incarnation: number; nsec: number };
  cpuPolicy: { leaves: number; msrs: number };
  populatedRanges: [number, number][];
  grantEntries: { flags: number; domid: number; frame: number }[];
}

/** Grant entries 0 (console) and 1 (xenstore) as xc_dom_gnttab_seed writes them (GTF_permit_access, dom0). */
const SEEDED_GRANTS = [
  { flags: 1, domid: 0, frame: CONSOLE_GFN },
  { flags: 1, domid: 0, frame: STORE_GFN },
];

/** Pages carrying data in the PAGE_DATA records (type not XTAB). */
function dataPages(buf: Buffer): number {
  let n = 0;
  for (const r of records(buf)) {
    if (r.type !== REC_PAGE_DATA) continue;
    const count = buf.readUInt32LE(r.offset + 8);
    for (let i = 0; i < count; i++) {
      const type = buf.readUInt32LE(r.offset + 16 + 8 * i + 4);
      if (type !== XTAB) n++;
    }
  }
  return n;
}

/** The stream with every HVM context CPU record cut to `len` octets. */
function withCpuRecordLength(stream: Buffer, len: number): Buffer {
  const rec = records(stream).find((r) => r.type === REC_HVM_CONTEXT);
  assert.ok(rec, 'the stream has an HVM_CONTEXT record');
  const ctx = stream.subarray(rec.offset + 8, rec.offset + 8 + rec.length);
  const parts: Buffer[] = [];
  let off = 0;
  let cut = 0;
  while (off + 8 <= ctx.length) {
    const typecode = ctx.readUInt16LE(off);
    const length = ctx.readUInt32LE(off + 4);
    let data = ctx.subarray(off + 8, off + 8 + length);
    const desc = Buffer.from(ctx.subarray(off, off + 8));
    if (typecode === 2) {
      data = len <= data.length ? data.subarray(0, len) : Buffer.concat([data, Buffer.alloc(len - data.length)]);
      desc.writeUInt32LE(len, 4);
      cut++;
    }
    parts.push(desc, data);
    off += 8 + length;
    if (typecode === 0) break;
  }
  assert.ok(cut > 0, 'the HVM context has CPU records');
  return replaceRecord(stream, rec, Buffer.concat(parts));
}

/** The stream with HVM_PARAMS entry `from` rewritten as index/value. */
function withParam(stream: Buffer, from: number, index: number, value: bigint): Buffer {
  const rec = records(stream).find((r) => r.type === REC_HVM_PARAMS);
  assert.ok(rec, 'the stream has an HVM_PARAMS record');
  const out = Buffer.from(stream);
  const body = rec.offset + 8;
  const count = out.readUInt32LE(body);
  for (let i = 0; i < count; i++) {
    const at = body + 8 + 16 * i;
    if (out.readBigUInt64LE(at) === BigInt(from)) {
      out.writeBigUInt64LE(BigInt(index), at);
      out.writeBigUInt64LE(value, at + 8);
      return out;
    }
  }
  assert.fail(`HVM_PARAMS has no entry ${from}`);
}

/** The stream with the last CPUID leaf renamed, or the last MSR renumbered. */
function withPolicyEntry(stream: Buffer, what: 'leaf' | 'msr', value: number): Buffer {
  const type = what === 'leaf' ? REC_X86_CPUID_POLICY : REC_X86_MSR_POLICY;
  const size = what === 'leaf' ? 24 : 16;
  const rec = records(stream).find((r) => r.type === type);
  assert.ok(rec && rec.length >= size, `the stream has a ${what} policy record`);
  const out = Buffer.from(stream);
  out.writeUInt32LE(value, rec.offset + 8 + rec.length - size);
  return out;
}

async function ok(dir: string, args: string[]): Promise<string> {
  const r = await runXenDouble(dir, args);
  assert.equal(r.code, 0, `xen-double ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function dump(dir: string, raw: string): Promise<DumpJson> {
  return JSON.parse(await ok(dir, ['dump', '--raw', raw, '--json'])) as DumpJson;
}

/** Read the populated pages of a sparse dump (skipping its holes). */
function populatedBytes(raw: string, ranges: [number, number][]): Buffer {
  const fd = openSync(raw, 'r');
  try {
    return Buffer.concat(
      ranges.map(([start, count]) => {
        const b = Buffer.alloc(count * PAGE);
        assert.equal(readSync(fd, b, 0, b.length, start * PAGE), b.length);
        return b;
      }),
    );
  } finally {
    closeSync(fd);
  }
}

/** Restore `stream` into a fresh domain; its memory must equal `srcRaw`'s. */
async function restoreAndCompare(
  work: string,
  stream: string,
  vcpus: number,
  src: DumpJson,
  srcRaw: string,
  env: NodeJS.ProcessEnv = {},
) {
  const dst = join(work, 'dst');
  mkdirSync(dst);
  const r = await runXenDouble(dst, ['restore', '--in', stream, '--hvm', '--memory', String(MIB), '--vcpus', String(vcpus)], { env });
  assert.equal(r.code, 0, `restore failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout) as { rc: number; missing: number; storeGfn: number; consoleGfn: number };
  assert.deepEqual(res, { rc: 0, missing: 0, staticDataDone: true, storeGfn: STORE_GFN, consoleGfn: CONSOLE_GFN, checkpoints: 0 });

  const dstRaw = join(work, 'dst.raw');
  const got = await dump(dst, dstRaw);
  assert.equal(got.populated, src.populated);
  assert.deepEqual(got.populatedRanges, src.populatedRanges);
  assert.equal(statSync(dstRaw).size, statSync(srcRaw).size);
  assert.ok(
    populatedBytes(dstRaw, got.populatedRanges).equals(populatedBytes(srcRaw, src.populatedRanges)),
    'restored memory equals the source byte for byte',
  );
  assert.equal(got.hvmContextLength, src.hvmContextLength);
  assert.deepEqual(got.cpuPolicy, src.cpuPolicy);
  assert.equal(got.tsc.incarnation, src.tsc.incarnation + 1, 'tsc_set_info bumps the incarnation');
  // Every param libxc saves (non-zero ones) arrives; CALLBACK_IRQ (0) is not saved.
  for (const idx of ['1', '5', '6', '12', '17', '19', '27', '28', '29', '32', '33', '37']) {
    assert.equal(got.hvmParams[idx], src.hvmParams[idx], `HVM param ${idx}`);
  }
  assert.equal(got.hvmParams['0'], undefined);
  assert.deepEqual(got.grantEntries, SEEDED_GRANTS);
  return { got, stderr: r.stderr };
}

const gate = xenDoubleGate();

if (gate.skip) {
  test('xen double', { skip: gate.skip }, () => {});
} else {
  describe('xen double: Debian libxenguest 4.17 saves and restores through it', () => {
    let base = '';
    let plainStream: Buffer;
    let plainPath = '';

    before(async () => {
      await buildXenDouble();
    });

    test('non-live save of a 16 MiB HVM domain: verify-stream-v2 passes, restore is byte for byte', async (t) => {
      const work = tmpDirFor(t, 'xenmig-xd-');
      base = work;
      const src = join(work, 'src');
      mkdirSync(src);
      await ok(src, ['create', '--hvm', '--memory', String(MIB), '--seed', '11']);
      plainPath = join(work, 'plain.stream');
      await ok(src, ['save', '--out', plainPath]);
      plainStream = readFileSync(plainPath);

      const v = await verifyStreamV2(plainPath);
      assert.equal(v.code, 0, `verify-stream-v2: ${v.stdout}${v.stderr}`);
      assert.equal(dataPages(plainStream), POPULATED);

      const srcRaw = join(work, 'src.raw');
      const s = await dump(src, srcRaw);
      assert.equal(s.populated, POPULATED);
      assert.equal(s.shutdown, 1);
      assert.equal(s.shutdownReason, 2, 'suspended (SHUTDOWN_suspend)');
      await restoreAndCompare(work, plainPath, 1, s, srcRaw);
      // Keep the stream for the negative tests (the directory goes with this test).
      plainStream = Buffer.from(plainStream);
    });

    test('the HVM context libxc sends decodes record by record into what hvm_save wrote (C structs of the 4.17 headers)', async (t) => {
      const work = tmpDirFor(t, 'xenmig-xd-');
      const src = join(work, 'src');
      mkdirSync(src);
      await ok(src, ['create', '--hvm', '--memory', String(MIB), '--vcpus', '2', '--seed', '14']);
      const path = join(work, 'ctx.stream');
      await ok(src, ['save', '--out', path]);
      const buf = readFileSync(path);
      const r = records(buf).find((x) => x.type === REC_HVM_CONTEXT)!;
      const blob = new Uint8Array(buf.buffer, buf.byteOffset + r.offset + 8, r.length);
      assert.deepEqual(checkHvmContext(blob), []);
      const recs = decodeHvmContext(blob);
      const byName = (name: string, instance = 0) => recs.find((x) => x.name === name && x.instance === instance)!.fields!;
      assert.deepEqual(
        [...new Set(recs.map((x) => x.name))],
        ['HEADER', 'CPU', 'PIC', 'IOAPIC', 'LAPIC', 'LAPIC_REGS', 'PCI_IRQ', 'ISA_IRQ', 'PCI_LINK', 'PIT', 'RTC', 'HPET', 'PMTIMER', 'MTRR', 'CPU_XSAVE', 'VMCE_VCPU', 'TSC_ADJUST', 'CPU_MSR'],
      );
      assert.equal(byName('HEADER').gtsc_khz, 2700000);
      const regs = hvmContextRegisters(blob);
      assert.deepEqual(regs.map((v) => v.vcpu), [0, 1]);
      for (const v of regs) {
        assert.equal(v.mode, 'long');
        assert.equal(v.rip, 0xffffffff81000000n + 0x1000n * BigInt(v.vcpu));
        assert.equal(v.rsp, 0xffffc90000004000n + 0x4000n * BigInt(v.vcpu));
        assert.equal(v.cr4, 0x3606f0n);
        assert.equal(v.cr3, 0x1000000n);
        assert.equal(v.efer, 0xd01n);
        assert.equal(v.gs.base, 0xffff888000000000n + 0x10000n * BigInt(v.vcpu));
        assert.equal(v.gdtr.base, 0xfffffe0000001000n + 0x10000n * BigInt(v.vcpu));
        assert.equal(v.ss.attributes, 0xc93);
      }
      assert.equal(byName('CPU', 1).msr_tsc_aux, 1n);
      assert.equal(byName('CPU', 0).msr_lstar, 0xffffffff81a00000n);
      assert.equal(byName('PIC', 0).is_master, true);
      assert.equal(byName('PIC', 1).irq_base, 0x28);
      assert.ok((byName('IOAPIC').redirtbl as { mask: boolean }[]).every((e) => e.mask));
      assert.equal(byName('LAPIC', 0).apic_base_msr, 0xfee00900n);
      assert.equal(byName('LAPIC_REGS', 1).id, 2 << 24);
      assert.equal(byName('LAPIC_REGS', 1).svr, 0x1ff);
      assert.deepEqual(byName('PCI_LINK').routes, [5, 10, 11, 5]);
      assert.deepEqual((byName('PIT').channels as { mode: number; gate: number }[]).map((c) => [c.mode, c.gate]), [[2, 1], [3, 1], [3, 0]]);
      assert.equal(byName('HPET').timer2_cmp, (1n << 64n) - 1n);
      assert.equal(byName('PMTIMER').tmr_val, 0x1234);
      assert.equal(byName('MTRR', 1).default_type, 'WB');
      assert.deepEqual(byName('CPU_XSAVE', 0).xcr0Components, ['x87', 'SSE', 'AVX']);
      assert.equal(byName('VMCE_VCPU', 1).caps, 0x1000c02n);
      assert.deepEqual(byName('CPU_MSR', 0).msrs, [{ index: 0x48, name: 'SPEC_CTRL', _rsvd: 0, val: 1n }]);
    });

    test('live save with 2 vcpus: the guest dirties pages between rounds and later rounds carry them', async (t) => {
      const work = tmpDirFor(t, 'xenmig-xd-');
      const src = join(work, 'src');
      mkdirSync(src);
      await ok(src, ['create', '--hvm', '--memory', String(MIB), '--vcpus', '2', '--seed', '12']);
      const beforeRaw = join(work, 'before.raw');
      const pre = await dump(src, beforeRaw);
      const stream = join(work, 'live.stream');
      await ok(src, ['save', '--out', stream, '--live', '--dirty', '64']);

      const v = await verifyStreamV2(stream);
      assert.equal(v.code, 0, `verify-stream-v2: ${v.stdout}${v.stderr}`);
      // A full pass, two more precopy rounds and the stop-and-copy round of 64 each.
      assert.equal(dataPages(readFileSync(stream)), POPULATED + 3 * 64);

      const srcRaw = join(work, 'src.raw');
      const s = await dump(src, srcRaw);
      assert.ok(
        !populatedBytes(srcRaw, s.populatedRanges).equals(populatedBytes(beforeRaw, pre.populatedRanges)),
        'the guest changed its memory during the save',
      );
      await restoreAndCompare(work, stream, 2, s, srcRaw);
    });

    test('live --debug save: a VERIFY pass follows, and the stream still restores exactly', async (t) => {
      const work = tmpDirFor(t, 'xenmig-xd-');
      const src = join(work, 'src');
      mkdirSync(src);
      await ok(src, ['create', '--hvm', '--memory', String(MIB), '--seed', '13']);
      const stream = join(work, 'debug.stream');
      await ok(src, ['save', '--out', stream, '--live', '--debug', '--dirty', '16']);
      const buf = readFileSync(stream);
      assert.equal(records(buf).filter((r) => r.type === REC_VERIFY).length, 1);
      assert.equal(dataPages(buf), POPULATED + 3 * 16 + POPULATED);
      const v = await verifyStreamV2(stream);
      assert.equal(v.code, 0, `verify-stream-v2: ${v.stdout}${v.stderr}`);
      const srcRaw = join(work, 'src.raw');
      const s = await dump(src, srcRaw);
      const { got } = await restoreAndCompare(work, stream, 1, s, srcRaw);
      assert.equal(got.populated, POPULATED);
    });

    test('grant-table seeding also works on the compat path (add_to_physmap + GNTTABOP_setup_table)', async (t) => {
      assert.ok(plainStream, 'the non-live test made a stream');
      const work = tmpDirFor(t, 'xenmig-xd-');
      const src = join(work, 'src');
      mkdirSync(src);
      await ok(src, ['create', '--hvm', '--memory', String(MIB), '--seed', '11']);
      const stream = join(work, 'plain.stream');
      await ok(src, ['save', '--out', stream]);
      const srcRaw = join(work, 'src.raw');
      const s = await dump(src, srcRaw);
      const { stderr } = await restoreAndCompare(work, stream, 1, s, srcRaw, {
        XEN_DOUBLE_NO_RESOURCE: '1',
        XEN_DOUBLE_TRACE: '1',
      });
      // memory_op 7 = XENMEM_add_to_physmap, grant_table_op 2 = GNTTABOP_setup_table, memory_op 15 = remove.
      assert.match(stderr, /hypercall 13\/7 -> 0/);
      assert.match(stderr, /hypercall 20\/2 -> 0/);
      assert.match(stderr, /hypercall 13\/15 -> 0/);
    });

    test('hvm_load zero-extends a shorter CPU record (1024 octets restores), refuses a longer one (1040)', async (t) => {
      assert.ok(base && plainStream, 'the non-live test made a stream');
      const work = tmpDirFor(t, 'xenmig-xd-');
      // _hvm_check_entry with strict_length false takes any length up to 1032 (xen/arch/x86/hvm/save.c).
      const short = join(work, 'cpu1024.stream');
      writeFileSync(short, withCpuRecordLength(plainStream, 1024));
      mkdirSync(join(work, 'dst'));
      const ok1024 = await runXenDouble(join(work, 'dst'), ['restore', '--in', short, '--hvm', '--memory', String(MIB)]);
      assert.equal(ok1024.code, 0, ok1024.stderr);
      const long = join(work, 'cpu1040.stream');
      writeFileSync(long, withCpuRecordLength(plainStream, 1040));
      mkdirSync(join(work, 'dst2'));
      const r = await runXenDouble(join(work, 'dst2'), ['restore', '--in', long, '--hvm', '--memory', String(MIB)]);
      assert.equal(r.code, 1, r.stderr);
      assert.notEqual((JSON.parse(r.stdout) as { rc: number }).rc, 0);
      assert.match(r.stderr, /HVM restore mismatch: expected zeroextended type 2 length 1016, saw type 2 length 1040/);
      assert.match(r.stderr, /xc_domain_restore failed: Unable to restore HVM context/);
    });

    test('hvm_set_param refuses TRIPLE_FAULT_REASON (31) = 8 > SHUTDOWN_MAX, takes 5', async (t) => {
      assert.ok(plainStream, 'the non-live test made a stream');
      const work = tmpDirFor(t, 'xenmig-xd-');
      const bad = join(work, 'param31.stream');
      writeFileSync(bad, withParam(plainStream, 37, 31, 8n));
      mkdirSync(join(work, 'dst'));
      const r = await runXenDouble(join(work, 'dst'), ['restore', '--in', bad, '--hvm', '--memory', String(MIB)]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /hvm_set_param: invalid value 0x8 for param 31/);
      assert.match(r.stderr, /xc_domain_restore failed: set HVM param 31 = 0x0*8 /);

      const good = join(work, 'param31ok.stream');
      writeFileSync(good, withParam(plainStream, 37, 31, 5n));
      mkdirSync(join(work, 'dst2'));
      const g = await runXenDouble(join(work, 'dst2'), ['restore', '--in', good, '--hvm', '--memory', String(MIB)]);
      assert.equal(g.code, 0, g.stderr);
    });

    test('set_cpu_policy refuses a leaf and an MSR Xen 4.17 does not know, naming them', async (t) => {
      assert.ok(plainStream, 'the non-live test made a stream');
      const work = tmpDirFor(t, 'xenmig-xd-');
      const leaf = join(work, 'leaf.stream');
      writeFileSync(leaf, withPolicyEntry(plainStream, 'leaf', 0x80000022));
      mkdirSync(join(work, 'a'));
      const r = await runXenDouble(join(work, 'a'), ['restore', '--in', leaf, '--hvm', '--memory', String(MIB)]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Failed to set CPUID policy: leaf 80000022, subleaf ffffffff, msr ffffffff \(34 = /);

      const msr = join(work, 'msr.stream');
      writeFileSync(msr, withPolicyEntry(plainStream, 'msr', 0x123));
      mkdirSync(join(work, 'b'));
      const m = await runXenDouble(join(work, 'b'), ['restore', '--in', msr, '--hvm', '--memory', String(MIB)]);
      assert.equal(m.code, 1, m.stderr);
      assert.match(m.stderr, /Failed to set CPUID policy: leaf ffffffff, subleaf ffffffff, msr 00000123 \(34 = /);
    });

    test('populate_physmap stops at max_pages: a 16 MiB stream does not fit an 8 MiB domain', async (t) => {
      assert.ok(plainPath, 'the non-live test made a stream');
      const work = tmpDirFor(t, 'xenmig-xd-');
      const stream = join(work, 'plain.stream');
      writeFileSync(stream, plainStream);
      mkdirSync(join(work, 'dst'));
      const r = await runXenDouble(join(work, 'dst'), ['restore', '--in', '-', '--hvm', '--memory', '8'], {
        input: readFileSync(stream),
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Over-allocation for d2: 2305 > 2304/);
      assert.match(r.stderr, /Failed to populate physmap/);
    });
  });
}
