/**
 * Per vcpu: what its context records say. For HVM, the CPU save records of the
 * HVM_CONTEXT blob, read by the CPU save record's decoder (src/format/hvm/cpu.ts); for
 * PV, the vcpu context records and their sizes.
 */
import { REC_TYPE, recordTypeName } from '../format/constants.js';
import { VCPU_HEADER_LAYOUT, VCPU_RECORDS } from '../format/records.js';
import { decodeCpu } from '../format/hvm/cpu.js';
import { HVM_SAVE_TYPE_CPU, HVM_SAVE_TYPE_END } from '../format/hvm-context.js';
import type { RecordItem } from '../stream/items.js';

const CR0_PE = 1n;
const CR0_PG = 1n << 31n;
const EFER_LMA = 1n << 10n;
/** Xen's segment attribute layout: type 0-3, s 4, dpl 5-6, p 7, avl 8, l 9, db 10, g 11. */
const SEG_L = 1 << 9;
const SEG_DB = 1 << 10;

export interface VcpuView {
  id: number;
  /** Where the registers come from: 'hvm-cpu' (a CPU save record) or 'pv' (context records). */
  source: 'hvm-cpu' | 'pv';
  mode?: string;
  registers?: Record<string, string>;
  /** PV: the context records by type name and their sizes; HVM: the CPU record's length. */
  records: { type: string; bytes: number }[];
}

const hex64 = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

/** The processor mode the registers put the vcpu in. */
export function cpuMode(cr0: bigint, efer: bigint, csArbytes: number): string {
  if ((cr0 & CR0_PE) === 0n) return 'real mode';
  const paging = (cr0 & CR0_PG) !== 0n;
  if ((efer & EFER_LMA) !== 0n) return (csArbytes & SEG_L) !== 0 ? '64-bit long mode' : 'compatibility mode (long mode, 32-bit code)';
  const width = (csArbytes & SEG_DB) !== 0 ? '32-bit' : '16-bit';
  return `${width} protected mode${paging ? ', paging' : ''}`;
}

/** Registers of one struct hvm_hw_cpu body, through the one CPU record decoder (shorter bodies zero-extended as Xen does). */
export function decodeHvmCpu(body: Uint8Array): { mode: string; registers: Record<string, string> } {
  const c = decodeCpu(body);
  const regs: Record<string, string> = {};
  for (const name of ['rip', 'rsp', 'rax', 'rbx', 'rcx', 'rdx', 'cr2', 'cr3'] as const) regs[name] = hex64(c[name]);
  // Control and flag registers are short: no padding, so the table stays narrow.
  regs['rflags'] = `0x${c.rflags.toString(16)}`;
  regs['cr0'] = `0x${c.cr0.toString(16)}`;
  regs['cr4'] = `0x${c.cr4.toString(16)}`;
  regs['efer'] = `0x${c.msr_efer.toString(16)}`;
  regs['cs'] = `0x${c.cs_sel.toString(16).padStart(4, '0')} (attr 0x${c.cs_arbytes.toString(16)})`;
  return { mode: cpuMode(c.cr0, c.msr_efer, c.cs_arbytes), registers: regs };
}

/** Gathers the vcpus from the records as they pass; bounded by the vcpu count (HVM_MAX_VCPUS, or the PV ids seen). */
export class VcpuCollector {
  private readonly byId = new Map<number, VcpuView>();
  private static readonly MAX_VCPUS = 4096;

  push(item: RecordItem): void {
    if (item.layer !== 'libxc' || !item.bodyComplete) return;
    if (item.type === REC_TYPE.HVM_CONTEXT) this.hvmContext(item.body);
    else if (VCPU_RECORDS.has(item.type) && item.body.length >= 8) {
      const id = VCPU_HEADER_LAYOUT.get(item.body, 'vcpuId', item.littleEndian);
      const vcpu = this.vcpu(id, 'pv');
      vcpu?.records.push({ type: recordTypeName(item.type), bytes: item.body.length - 8 });
    }
  }

  private vcpu(id: number, source: VcpuView['source']): VcpuView | undefined {
    let v = this.byId.get(id);
    if (v === undefined) {
      if (this.byId.size >= VcpuCollector.MAX_VCPUS) return undefined;
      v = { id, source, records: [] };
      this.byId.set(id, v);
    }
    return v;
  }

  /** The blob's save records, as hvmContextVcpus walks them; the last CPU record of a vcpu wins (a checkpointed stream sends several). */
  private hvmContext(blob: Uint8Array): void {
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    for (let off = 0; off + 8 <= blob.length; ) {
      const typecode = view.getUint16(off, true);
      const instance = view.getUint16(off + 2, true);
      const length = view.getUint32(off + 4, true);
      if (typecode === HVM_SAVE_TYPE_END) return;
      const body = blob.subarray(off + 8, Math.min(blob.length, off + 8 + length));
      if (typecode === HVM_SAVE_TYPE_CPU) {
        const vcpu = this.vcpu(instance, 'hvm-cpu');
        if (vcpu) {
          const { mode, registers } = decodeHvmCpu(body);
          vcpu.mode = mode;
          vcpu.registers = registers;
          vcpu.records = [{ type: 'CPU', bytes: body.length }];
        }
      }
      off += 8 + length;
    }
  }

  finish(): VcpuView[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }
}
