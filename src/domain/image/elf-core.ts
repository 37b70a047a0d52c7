/**
 * ELF64 core files of guest memory, as memory forensics tools and gdb read them: one
 * PT_LOAD per run of consecutive pfns, p_paddr (and p_vaddr) = guest physical address.
 * Page data sits at a fixed place, file offset ELF_DATA_BASE + pfn*4096, so pages can
 * be written as they arrive in any order (holes stay sparse); the program headers go
 * after the data, where e_phoff can point once the runs are known.
 */
import { PAGE_SIZE } from '../../format/constants.js';

export const ELF_DATA_BASE = PAGE_SIZE;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const ET_CORE = 4;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PF_RWX = 7;
/** e_phnum value meaning "the count is in section header 0's sh_info". */
const PN_XNUM = 0xffff;

export interface PfnRun {
  start: number;
  count: number;
}

/** The ELF header and the tables that follow the page data, with where each goes. */
export function elfCoreTables(runs: readonly PfnRun[], maxPfn: number): { header: Uint8Array; tables: Uint8Array; tablesAt: number } {
  const tablesAt = ELF_DATA_BASE + (maxPfn + 1) * PAGE_SIZE;
  const extended = runs.length >= PN_XNUM;
  const tables = new Uint8Array(runs.length * PHDR_SIZE + (extended ? SHDR_SIZE : 0));
  const t = new DataView(tables.buffer);
  runs.forEach((r, i) => {
    const o = i * PHDR_SIZE;
    const addr = BigInt(r.start) * BigInt(PAGE_SIZE);
    const size = BigInt(r.count) * BigInt(PAGE_SIZE);
    t.setUint32(o, PT_LOAD, true);
    t.setUint32(o + 4, PF_RWX, true);
    t.setBigUint64(o + 8, BigInt(ELF_DATA_BASE) + addr, true);
    t.setBigUint64(o + 16, addr, true);
    t.setBigUint64(o + 24, addr, true);
    t.setBigUint64(o + 32, size, true);
    t.setBigUint64(o + 40, size, true);
    t.setBigUint64(o + 48, BigInt(PAGE_SIZE), true);
  });
  if (extended) t.setUint32(runs.length * PHDR_SIZE + 44, runs.length, true); // sh_info of section 0

  const header = new Uint8Array(EHDR_SIZE);
  const h = new DataView(header.buffer);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2 /* 64-bit */, 1 /* little-endian */, 1 /* version */, 0 /* System V */]);
  h.setUint16(16, ET_CORE, true);
  h.setUint16(18, EM_X86_64, true);
  h.setUint32(20, 1, true);
  h.setBigUint64(32, BigInt(tablesAt), true); // e_phoff
  h.setBigUint64(40, extended ? BigInt(tablesAt + runs.length * PHDR_SIZE) : 0n, true); // e_shoff
  h.setUint16(52, EHDR_SIZE, true);
  h.setUint16(54, PHDR_SIZE, true);
  h.setUint16(56, extended ? PN_XNUM : runs.length, true);
  h.setUint16(58, extended ? SHDR_SIZE : 0, true);
  h.setUint16(60, extended ? 1 : 0, true);
  return { header, tables, tablesAt };
}
