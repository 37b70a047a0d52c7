/**
 * The embedded sample domain's stream: a small deterministic v3 HVM domain (CPU policy,
 * memory in pattern pages, TSC, HVM params and context) written with StreamWriter,
 * wrapped in libxl and an xl header. `npm start`, the benchmarks and tests build it.
 */
import { LIBXC_VERSION_3, MAX_BATCH_PFNS, PAGE_SIZE, REC_TYPE, DHDR_TYPE_X86_HVM, LIBXL_REC_TYPE, EMULATOR_ID } from '../format/constants.js';
import { makeImageHeader, makeLibxlHeader, makeXlHeader } from '../format/headers.js';
import { encodeXenstoreData } from '../format/libxl/xenstore-data.js';
import type { PfnEntry } from '../format/records.js';
import { encodeHvmContext, encodeHvmCpuRecord, HVM_FILE_VERSION, HVM_SAVE_TYPE_CPU } from '../format/hvm-context.js';
import type { HvmParam } from '../format/records.js';
import type { ByteSink } from '../io/sink.js';
import { StreamWriter } from './writer.js';

export interface SampleOptions {
  /** Guest memory in MiB (whole pages). Default 64. */
  memoryMiB?: number;
  /** Outermost layer. Default 'xl'. */
  wrap?: 'xl' | 'libxl' | 'libxc';
  version?: 2 | 3;
  bigEndian?: boolean;
  /**
   * 'per-pfn': each page says which pfn it is (catches misplaced pages). 'repeat': one
   * batch of pattern pages reused for every record (fast, for multi-GiB benchmarks).
   */
  pages?: 'per-pfn' | 'repeat';
  vcpus?: number;
}

export const SAMPLE_DOMAIN_NAME = 'xenmig-sample';

export const SAMPLE_CONFIG = JSON.stringify({
  c_info: { type: 'hvm', name: SAMPLE_DOMAIN_NAME, uuid: '5a3e1c00-0000-4000-8000-00000000cafe' },
  b_info: { max_vcpus: 2, max_memkb: 65536, target_memkb: 65536, type: { hvm: {} } },
});

/** A page whose every 8 octets hold the pfn and a running counter: misplaced pages show. */
export function fillSamplePage(into: Uint8Array, pfn: number): void {
  const view = new DataView(into.buffer, into.byteOffset, PAGE_SIZE);
  for (let i = 0; i < PAGE_SIZE; i += 8) {
    view.setUint32(i, pfn >>> 0, true);
    view.setUint32(i + 4, (Math.imul(i, 2654435761) + pfn) >>> 0, true);
  }
}

/**
 * An HVM context blob such as Xen 4.17's `hvm_save` writes for a 64-bit guest at work:
 * HEADER, then one CPU record per vcpu in long mode (paging on, EFER.LMA, flat 64-bit
 * segments), END. The other devices' records are left out: `hvm_load` keeps a device's
 * state as the new domain has it when its record is absent. GPRs and rip vary with the
 * seed so that vcpus differ.
 */
export function sampleHvmContext(vcpus: number, seed = 0): Uint8Array {
  const flat = (sel: number, arbytes: number) => ({ sel, limit: 0xffffffff, base: 0n, arbytes });
  const records = Array.from({ length: vcpus }, (_, id) => {
    const mix = BigInt(Math.imul(seed + 1, 0x9e3779b1) >>> 0) << 8n;
    const gprs = Array.from({ length: 16 }, (_, i) => (mix ^ BigInt(i * 0x1111 + id)) & 0xffffffffffffn);
    const body = encodeHvmCpuRecord({
      gprs,
      rip: 0xffffffff81000000n + mix + BigInt(id * 0x40),
      rflags: 0x246n,
      cr0: 0x80050033n, // PG AM WP NE ET MP PE
      cr3: 0x1000n,
      cr4: 0x6f0n, // PSE PAE MCE PGE OSFXSR OSXMMEXCPT
      efer: 0xd01n, // SCE LME LMA NXE
      // cs (long mode code), ds, es, fs, gs, ss (flat data), tr (busy 64-bit TSS), ldtr (unusable).
      segments: [flat(0x10, 0xa9b), flat(0x18, 0xc93), flat(0x18, 0xc93), flat(0, 0x1c000), flat(0, 0x1c000), flat(0x18, 0xc93), { sel: 0x40, limit: 0x67, base: 0x2000n + BigInt(id * 0x80), arbytes: 0x8b }, { sel: 0, limit: 0, base: 0n, arbytes: 0x1c000 }],
      gdtr: { base: 0x3000n, limit: 0x7f },
      idtr: { base: 0x4000n, limit: 0xfff },
      tsc: 1_000_000_000n + BigInt(id),
      tscAux: id,
    });
    return { typecode: HVM_SAVE_TYPE_CPU, instance: id, body };
  });
  return encodeHvmContext({ version: HVM_FILE_VERSION, changeset: 0n, cpuid: 0x000906ea, gtscKhz: 2_400_000 }, records);
}

/**
 * The HVM params libxc's saver sends for a guest xl built (`write_hvm_params`, only the
 * non-zero ones, in its order): the special pages libxl's HVM build puts just below the
 * top of memory here (xenstore, ioreq, bufioreq, console; ioreq-server pages beside them),
 * the PM timer at its new ports, the 64-bit x87 FIP width.
 */
export function sampleHvmParams(memoryPages: number): HvmParam[] {
  const top = BigInt(memoryPages);
  return [
    { index: 1n, value: top - 2n }, // STORE_PFN
    { index: 5n, value: top - 4n }, // IOREQ_PFN
    { index: 6n, value: top - 3n }, // BUFIOREQ_PFN
    { index: 17n, value: top - 1n }, // CONSOLE_PFN
    { index: 19n, value: 1n }, // ACPI_IOPORTS_LOCATION
    { index: 32n, value: top - 8n }, // IOREQ_SERVER_PFN
    { index: 33n, value: 4n }, // NR_IOREQ_SERVER_PAGES
    { index: 36n, value: 8n }, // X87_FIP_WIDTH
  ];
}

export async function writeSampleStream(sink: ByteSink, opts: SampleOptions = {}): Promise<void> {
  const memoryPages = Math.max(1, Math.floor(((opts.memoryMiB ?? 64) * 1024 * 1024) / PAGE_SIZE));
  const wrap = opts.wrap ?? 'xl';
  const version = opts.version ?? LIBXC_VERSION_3;
  const vcpus = opts.vcpus ?? 2;
  const w = new StreamWriter(sink);
  if (wrap === 'xl') await w.xlHeader(makeXlHeader(SAMPLE_CONFIG));
  if (wrap !== 'libxc') {
    await w.libxlHeader(makeLibxlHeader(opts.bigEndian ?? false));
    await w.record(LIBXL_REC_TYPE.LIBXC_CONTEXT);
  }
  await w.libxcHeader(makeImageHeader(version, opts.bigEndian ?? false), {
    type: DHDR_TYPE_X86_HVM,
    pageShift: 12,
    reserved: 0,
    xenMajor: 4,
    xenMinor: 19,
  });
  if (version === LIBXC_VERSION_3) {
    await w.libxcRecord({
      type: REC_TYPE.X86_CPUID_POLICY,
      entries: [
        { leaf: 0, subleaf: 0xffffffff, eax: 0xd, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
        { leaf: 1, subleaf: 0xffffffff, eax: 0x000906ea, ebx: 0x00010800, ecx: 0xf7fa3203, edx: 0x178bfbff },
        { leaf: 7, subleaf: 0, eax: 0, ebx: 0x009c27ab, ecx: 0, edx: 0xbc000400 },
      ],
    });
    await w.libxcRecord({
      type: REC_TYPE.X86_MSR_POLICY,
      entries: [
        { index: 0xce, flags: 0, value: 0n },
        { index: 0x10a, flags: 0, value: 0x0c000e04n },
      ],
    });
    await w.libxcRecord({ type: REC_TYPE.STATIC_DATA_END });
  }
  const batch = new Uint8Array(MAX_BATCH_PFNS * PAGE_SIZE);
  const repeat = (opts.pages ?? 'per-pfn') === 'repeat';
  if (repeat) for (let i = 0; i < MAX_BATCH_PFNS; i++) fillSamplePage(batch.subarray(i * PAGE_SIZE), i);
  const entries: PfnEntry[] = [];
  for (let first = 0; first < memoryPages; first += MAX_BATCH_PFNS) {
    const n = Math.min(MAX_BATCH_PFNS, memoryPages - first);
    entries.length = n;
    for (let i = 0; i < n; i++) {
      entries[i] = { pfn: first + i, pageType: 0, reservedBits: 0 };
      if (!repeat) fillSamplePage(batch.subarray(i * PAGE_SIZE), first + i);
    }
    await w.pageData(entries, batch.subarray(0, n * PAGE_SIZE));
  }
  await w.libxcRecord({ type: REC_TYPE.X86_TSC_INFO, mode: 0, khz: 2_400_000, nsec: 1_000_000_000n, incarnation: 1, reserved: 0 });
  // libxc's order (x86_hvm_end_of_checkpoint): TSC, HVM_CONTEXT, HVM_PARAMS.
  await w.libxcRecord({ type: REC_TYPE.HVM_CONTEXT, data: sampleHvmContext(vcpus) });
  await w.libxcRecord({ type: REC_TYPE.HVM_PARAMS, reserved: 0, params: sampleHvmParams(memoryPages) });
  await w.libxcRecord({ type: REC_TYPE.END });
  if (wrap !== 'libxc') {
    await w.libxlRecord({
      type: LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA,
      emulatorId: EMULATOR_ID.QEMU_UPSTREAM,
      index: 0,
      data: encodeXenstoreData([
        ['physmap/1/start_addr', 'f0000000'],
        ['physmap/1/size', '800000'],
        ['physmap/1/name', 'vga.vram'],
      ]),
    });
    const qemu = new Uint8Array(4096);
    for (let i = 0; i < qemu.length; i++) qemu[i] = (i * 13) & 0xff;
    await w.libxlRecord({ type: LIBXL_REC_TYPE.EMULATOR_CONTEXT, emulatorId: EMULATOR_ID.QEMU_UPSTREAM, index: 0, data: qemu });
    await w.record(LIBXL_REC_TYPE.END);
  }
}
