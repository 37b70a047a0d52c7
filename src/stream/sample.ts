/**
 * The embedded sample domain's stream: a small deterministic v3 HVM domain (CPU policy,
 * memory in pattern pages, TSC, HVM params and context) written with StreamWriter,
 * wrapped in libxl and an xl header. `npm start`, the benchmarks and tests build it.
 */
import { LIBXC_VERSION_3, MAX_BATCH_PFNS, PAGE_SIZE, REC_TYPE, DHDR_TYPE_X86_HVM, LIBXL_REC_TYPE, EMULATOR_ID } from '../format/constants.js';
import { makeImageHeader, makeLibxlHeader, makeXlHeader } from '../format/headers.js';
import { encodeXenstoreData } from '../format/libxl-records.js';
import type { PfnEntry } from '../format/records.js';
import { encodeHvmContext } from '../format/hvm-context.js';
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

/** An HVM context blob as Xen lays it out: HEADER, one CPU record per vcpu (pattern contents), END. */
export function sampleHvmContext(vcpus: number): Uint8Array {
  const cpus = Array.from({ length: vcpus }, (_, v) => Uint8Array.from({ length: 1024 }, (_, i) => (i * 31 + v) & 0xff));
  return encodeHvmContext({ version: 1, changeset: 0n, cpuid: 0x000906ea, gtscKhz: 2_400_000 }, cpus);
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
  await w.libxcRecord({
    type: REC_TYPE.HVM_PARAMS,
    reserved: 0,
    params: [
      { index: 0n, value: 0x0200000000000000n | 0xf3n }, // CALLBACK_IRQ: vector delivery
      { index: 1n, value: BigInt(memoryPages - 2) }, // STORE_PFN
      { index: 2n, value: 1n }, // STORE_EVTCHN
      { index: 10n, value: 1n }, // TIMER_MODE
      { index: 17n, value: BigInt(memoryPages - 1) }, // CONSOLE_PFN
    ],
  });
  await w.libxcRecord({ type: REC_TYPE.HVM_CONTEXT, data: sampleHvmContext(vcpus) });
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
