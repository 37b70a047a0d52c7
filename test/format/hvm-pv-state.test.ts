/**
 * The HVM save record modules and PV vcpu decoders: decode(encode(x)) is x for every
 * module (fast-check), the registers xenmig's own sample guests write come back through
 * the shared VcpuRegisters shape, and the Xen-version layouts decode as Xen's loader
 * extends them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HVM_SAVE_RECORDS } from '../../src/format/hvm/table.js';
import { checkHvmContext, decodeHvmContext, describeHvmContext, encodeHvmSaveRecords, hvmContextRegisters, hvmSaveRecords } from '../../src/format/hvm/context.js';
import { decodeCpu, HVM_HW_CPU_COMPAT_LAYOUT, HVM_HW_CPU_LAYOUT, hvmCpu } from '../../src/format/hvm/cpu.js';
import { hvmCpuMsr } from '../../src/format/hvm/cpu-msr.js';
import { hvmCpuXsave } from '../../src/format/hvm/cpu-xsave.js';
import { hvmRtc } from '../../src/format/hvm/rtc.js';
import { hvmViridianVcpu } from '../../src/format/hvm/viridian-vcpu.js';
import {
  decodeExtVcpuContext,
  decodePvMsrs,
  decodePvVcpuContext,
  decodePvXsave,
  decodeSharedInfo,
  encodeExtVcpuContext,
  encodePvMsrs,
  encodePvVcpuContext,
  encodePvXsave,
  pvCr3Pfn,
  pvVcpuRegisters,
  VCPU_GUEST_CONTEXT_X86_32_LAYOUT,
  VCPU_GUEST_CONTEXT_X86_64_LAYOUT,
} from '../../src/format/pv/index.js';
import { sampleHvmContext } from '../../src/domain/simulated/sample.js';
import { pvVcpuContexts } from '../../src/domain/simulated/pv-guest.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

test('every fixed-size HVM save record module: encode(decode(b)) is b and decode(encode(x)) is x', () => {
  for (const m of Object.values(HVM_SAVE_RECORDS)) {
    if (m.rule === 'xsave' || m.rule === 'msr') continue;
    fc.assert(
      fc.property(bytes(m.layout.size), (b) => {
        const x = m.decode(b);
        const again = m.encode(x);
        assert.deepEqual(Buffer.from(again), Buffer.from(b), `${m.name}: bytes`);
        assert.deepEqual(m.decode(again), x, `${m.name}: fields`);
        // describe never throws and names every non-gap field
        const d = m.describe(x);
        assert.equal(typeof d.text, 'string');
      }),
      { numRuns: 50 },
    );
  }
});

test('CPU_XSAVE and CPU_MSR round-trip with any extended area and any MSR list', () => {
  fc.assert(
    fc.property(bytes(600), fc.uint8Array({ maxLength: 2048 }), (fixed, ext) => {
      const body = new Uint8Array([...fixed, ...ext]);
      const x = hvmCpuXsave.decode(body);
      assert.deepEqual(Buffer.from(hvmCpuXsave.encode(x)), Buffer.from(body));
    }),
    { numRuns: 50 },
  );
  const msr = fc.record({ index: fc.nat({ max: 0xffffffff }), _rsvd: fc.nat({ max: 0xffffffff }), val: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) });
  fc.assert(
    fc.property(fc.array(msr, { minLength: 1, maxLength: 20 }), (msrs) => {
      const body = hvmCpuMsr.encode({ count: msrs.length, msrs: msrs.map((m) => ({ ...m, name: '' })) });
      const back = hvmCpuMsr.decode(body);
      assert.equal(back.count, msrs.length);
      assert.deepEqual(back.msrs.map(({ name: _n, ...m }) => m), msrs.map((m) => ({ ...m })));
    }),
    { numRuns: 50 },
  );
});

test('the CPU record\'s three sizes decode as hvm_load sees them (compat moves tsc, shorter ones force flags)', () => {
  const full = HVM_HW_CPU_LAYOUT.zero();
  full.rip = 0x1234n;
  full.msr_efer = 0xd01n;
  full.msr_tsc_aux = 7n;
  full.tsc = 0xabcdefn;
  full.pending_event = 0x80000e0e;
  full.flags = 0;
  const compat = HVM_HW_CPU_COMPAT_LAYOUT.zero();
  compat.rip = 0x1234n;
  compat.tsc = 0xabcdefn;
  compat.pending_event = 0x80000e0e;
  assert.equal(HVM_HW_CPU_COMPAT_LAYOUT.size, 1016);
  const c = decodeCpu(HVM_HW_CPU_COMPAT_LAYOUT.encode(compat, true));
  assert.equal(c.tsc, 0xabcdefn);
  assert.equal(c.pending_event, 0x80000e0e);
  assert.equal(c.msr_tsc_aux, 0n);
  assert.equal(c.flags, 1);
  const b = HVM_HW_CPU_LAYOUT.encode(full, true);
  assert.equal(decodeCpu(b).flags, 0, 'a full record keeps its flags');
  const old = decodeCpu(b.subarray(0, 1024));
  assert.equal(old.flags, 1, 'Xen <= 4.6: flags forced to FPU_INITIALISED');
  assert.equal(old.msr_tsc_aux, 7n);
  assert.equal(hvmCpu.describe(decodeCpu(b)).fields.pending !== null, true);
});

test('older Xen versions\' layouts: RTC of 4.13, VIRIDIAN_VCPU of 4.7-4.12 zero-extend and say so', () => {
  const rtc = new Uint8Array(16);
  rtc[0] = 0x59;
  const viridian = new Uint8Array(16);
  viridian[0] = 0x01;
  viridian[8] = 1;
  const blob = encodeHvmSaveRecords([
    { typecode: 1, instance: 0, body: HVM_SAVE_RECORDS.HEADER.encode({ magic: 0x54381286, version: 1, changeset: 0n, cpuid: 0, gtsc_khz: 0 }) },
    { typecode: 11, instance: 0, body: rtc },
    { typecode: 17, instance: 0, body: viridian },
  ]);
  const recs = decodeHvmContext(blob);
  assert.deepEqual(recs.map((r) => r.name), ['HEADER', 'RTC', 'VIRIDIAN_VCPU']);
  assert.equal(recs[1]!.fields!.layout, 'layout of Xen 4.13 and older (no rtc_offset)');
  assert.equal(recs[1]!.fields!.rtc_offset, 0n);
  assert.equal((recs[1]!.record as ReturnType<typeof hvmRtc.decode>).cmos_data[0], 0x59);
  assert.equal((recs[2]!.record as ReturnType<typeof hvmViridianVcpu.decode>).apic_assist_pending, 1);
  assert.match(recs[2]!.text, /layout of Xen 4.7 to 4.12/);
  assert.deepEqual(checkHvmContext(blob), []);
});

test('the sample HVM guest\'s CPU records come back as VcpuRegisters: long mode, its rip, control registers', () => {
  const blob = sampleHvmContext(3, 5);
  assert.deepEqual(checkHvmContext(blob), []);
  const regs = hvmContextRegisters(blob);
  assert.deepEqual(regs.map((r) => r.vcpu), [0, 1, 2]);
  const mix = BigInt(Math.imul(6, 0x9e3779b1) >>> 0) << 8n;
  for (const r of regs) {
    assert.equal(r.mode, 'long');
    assert.equal(r.online, true);
    assert.equal(r.rip, BigInt.asUintN(64, 0xffffffff81000000n + mix + BigInt(r.vcpu * 0x40)));
    assert.equal(r.cr0, 0x80050033n);
    assert.equal(r.cr3, 0x1000n);
    assert.equal(r.cr4, 0x6f0n);
    assert.equal(r.efer, 0xd01n);
    assert.equal(r.cs.selector, 0x10);
    assert.equal(r.gdtr.base, 0x3000n);
    assert.equal(r.rax, (mix ^ BigInt(r.vcpu)) & 0xffffffffffffn);
    assert.deepEqual(r.notes, []);
  }
});

test('vcpu_guest_context of both widths: decode(encode(x)) is x; sizes 5168 and 2800', () => {
  assert.equal(VCPU_GUEST_CONTEXT_X86_64_LAYOUT.size, 5168);
  assert.equal(VCPU_GUEST_CONTEXT_X86_32_LAYOUT.size, 2800);
  for (const width of [8, 4] as const) {
    const size = width === 8 ? 5168 : 2800;
    fc.assert(
      fc.property(bytes(size), (b) => {
        const ctx = decodePvVcpuContext(b, width);
        assert.deepEqual(Buffer.from(encodePvVcpuContext(ctx)), Buffer.from(b));
        const regs = pvVcpuRegisters(3, ctx);
        assert.equal(regs.vcpu, 3);
      }),
      { numRuns: 30 },
    );
  }
  fc.assert(
    fc.property(bytes(64), (b) => assert.deepEqual(Buffer.from(encodeExtVcpuContext(decodeExtVcpuContext(b))), Buffer.from(b))),
    { numRuns: 30 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }).map((b) => b.subarray(0, b.length - (b.length % 16))), (b) => assert.deepEqual(Buffer.from(encodePvMsrs(decodePvMsrs(b))), Buffer.from(b))),
    { numRuns: 30 },
  );
  fc.assert(
    fc.property(fc.oneof(bytes(16), fc.uint8Array({ minLength: 592, maxLength: 1200 })), (b) => assert.deepEqual(Buffer.from(encodePvXsave(decodePvXsave(b))), Buffer.from(b))),
    { numRuns: 30 },
  );
});

test('the sample PV guest\'s contexts: long mode on the flat kernel selectors, cr3 at the L4, online', () => {
  const ctxs = pvVcpuContexts(2, 9);
  for (const c of ctxs.filter((x) => x.kind === 'basic')) {
    const r = pvVcpuRegisters(c.vcpuId, decodePvVcpuContext(c.data, 8));
    assert.equal(r.mode, 'long');
    assert.equal(r.online, true);
    assert.equal(r.cs.selector, 0xe033);
    assert.equal(r.ss.selector, 0xe02b);
    assert.equal(r.rip, 0xffffffff80000000n + 0x1000000n + BigInt(9 * 16 + c.vcpuId * 0x40));
    assert.equal(r.rsp, 0xffffffff80000000n + 0x800000n - BigInt(c.vcpuId) * 0x4000n);
    assert.equal(r.cr0, 0x80050033n);
    assert.equal(r.cr3, 0x1000n);
    assert.equal(r.kernelGsBase, 0xffff888000000000n + BigInt(c.vcpuId) * 0x200000n);
    assert.deepEqual(r.notes, []);
  }
  const xs = decodePvXsave(ctxs.find((x) => x.kind === 'xsave')!.data);
  assert.equal(xs.xcr0, 7n);
  assert.equal(xs.area?.xstate_bv, 3n);
  const ext = decodeExtVcpuContext(ctxs.find((x) => x.kind === 'extended')!.data);
  assert.equal(ext.size, 64);
});

test('a 32-bit PV context: protected mode, the rotated cr3, VGCF_online clear is a vcpu that is down', () => {
  const ctx = decodePvVcpuContext(new Uint8Array(2800), 4);
  const f = ctx.fields as Record<string, number>;
  f.flags = 1 | 4; // i387 valid, in kernel, not online
  f.eip = 0xc0100000;
  f.cs = 0xe019;
  f.ctrlreg3 = ((0x1234 << 12) | (0x1234 >>> 20)) >>> 0;
  const r = pvVcpuRegisters(1, decodePvVcpuContext(encodePvVcpuContext(ctx), 4));
  assert.equal(r.mode, 'protected');
  assert.equal(r.online, false);
  assert.equal(r.rip, 0xc0100000n);
  assert.match(r.notes.join(';'), /VGCF_online clear/);
  assert.equal(pvCr3Pfn(4, r.cr3), 0x1234n);
});

test('shared info of either width: arch.max_pfn, wallclock and the vcpu slots in use', () => {
  const page = new Uint8Array(4096);
  const v = new DataView(page.buffer);
  v.setUint8(0, 1); // vcpu 0 upcall pending
  v.setBigUint64(2048, 0x5n, true); // evtchn_pending bits 0 and 2
  v.setUint32(3076, 1700000000, true); // wc_sec
  v.setBigUint64(3088, 0x4000n, true); // arch.max_pfn
  const s = decodeSharedInfo(page, 8);
  assert.equal(s.fields.max_pfn, 0x4000n);
  assert.equal(s.fields.wc_sec, 1700000000);
  assert.equal(s.fields.evtchnPendingCount, 2);
  assert.deepEqual(s.vcpus.map((x) => x.vcpu), [0]);
  const p32 = new Uint8Array(4096);
  new DataView(p32.buffer).setUint32(2048 + 256 + 12, 0x800, true); // arch.max_pfn
  assert.equal(decodeSharedInfo(p32, 4).fields.max_pfn, 0x800);
});

test('an HVM vcpu with per-vcpu records but no CPU record is down (hvm_save_cpu_ctxt saves none for it)', () => {
  const blob = sampleHvmContext(1);
  const recs = hvmSaveRecords(blob);
  const lapic = HVM_SAVE_RECORDS.LAPIC.encode({ apic_base_msr: 0xfee00800n, disabled: 0, timer_divisor: 1, tdt_msr: 0n, pending_esr: 0, pad_esr: 0 }).subarray(0, 24);
  const withDown = encodeHvmSaveRecords([...recs, { typecode: 5, instance: 0, body: lapic }, { typecode: 5, instance: 1, body: lapic }]);
  assert.deepEqual(checkHvmContext(withDown), []);
  const regs = hvmContextRegisters(withDown);
  assert.deepEqual(regs.map((r) => [r.vcpu, r.online]), [[0, true], [1, false]]);
  const d = describeHvmContext(withDown);
  assert.match(d.text, /^1144 octet\(s\), 4 save record\(s\), 2 vcpu\(s\) \(1 down\)/);
  assert.match(d.text, /\n    0x0450  LAPIC vcpu 1: xAPIC, base msr 0xfee00800, divisor 1, tdt 0x0/);
  assert.match(d.text, /\n    vcpu 1: real, rip 0x0 .* \(down; no CPU save record/);
});
