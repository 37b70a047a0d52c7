/** HEADER (typecode 1): struct hvm_save_header, always the blob's first record. */
import { struct } from '../layout.js';
import { hex, plainRecord } from './save-record.js';

/** HVM_FILE_MAGIC and HVM_FILE_VERSION: the only header `arch_hvm_load` takes. */
export const HVM_FILE_MAGIC = 0x54381286;
export const HVM_FILE_VERSION = 1;

export const HVM_SAVE_HEADER_LAYOUT = struct('hvm_save_header', {
  magic: 'u32',
  version: 'u32',
  changeset: 'u64',
  cpuid: 'u32',
  gtsc_khz: 'u32',
});

export const hvmHeader = plainRecord({
  typecode: 1,
  name: 'HEADER',
  perVcpu: false,
  rule: 'strict',
  length: 24,
  layout: HVM_SAVE_HEADER_LAYOUT,
  c: { type: 'struct hvm_save_header', size: 24 },
  text: (r) => `magic ${hex(r.magic)}, version ${r.version}, changeset ${hex(r.changeset)}, cpuid ${hex(r.cpuid, 8)}, ${r.gtsc_khz} kHz`,
  check(ctx) {
    const { magic, version } = ctx.record;
    if (magic !== HVM_FILE_MAGIC) ctx.report('hvm-context-header', `HEADER magic ${hex(magic)}, expected ${hex(HVM_FILE_MAGIC)}`);
    if (version !== HVM_FILE_VERSION) ctx.report('hvm-context-header', `HEADER version ${version}, expected ${HVM_FILE_VERSION}`);
  },
});
