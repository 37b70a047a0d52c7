/**
 * Every diagnostic code the verifier emits, with its severity and what it means. This is
 * the one documented list: tests assert these codes, scripts match on them, so a code is
 * never renamed once published.
 */
import type { Severity } from './types.js';

export interface CodeInfo {
  severity: Severity;
  meaning: string;
}

export const DIAGNOSTIC_CODES = {
  // ---- framing (raised by the reader, turned into diagnostics) ----
  'empty-input': { severity: 'error', meaning: 'the input holds no octet' },
  'legacy-image': { severity: 'error', meaning: 'a legacy (pre-v2, Xen <= 4.5) image or not a Xen stream' },
  'xl-legacy-stream': { severity: 'error', meaning: 'the xl header does not set the stream-v2 flag: a legacy stream follows' },
  'truncated': { severity: 'error', meaning: 'the input ended inside a header or record' },
  'record-too-long': { severity: 'error', meaning: 'a record body over 128 MiB (refused before reading it)' },
  'limit-exceeded': { severity: 'error', meaning: 'an xl config over 4 MiB or emulator xenstore data over 1 MiB (xenmig\'s bounds; refused before reading it)' },
  'repeated-findings': { severity: 'info', meaning: 'a finding repeated beyond the first 10 of its code, counted in one line instead of one line each' },
  'bad-framing': { severity: 'error', meaning: 'a header or record that cannot be framed (magic, marker, id, byte order)' },
  'trailing-data': { severity: 'error', meaning: 'octets after the outermost END' },
  'missing-end': { severity: 'error', meaning: 'the stream stopped before its END record' },
  'padding-nonzero': { severity: 'error', meaning: 'record padding octets are not zero' },
  // ---- xl header ----
  'xl-mandatory-flags-unknown': { severity: 'error', meaning: 'unknown mandatory flags in the xl header (xl refuses)' },
  'xl-optional-flags-unknown': { severity: 'info', meaning: 'unknown optional flags in the xl header (ignored)' },
  'xl-big-endian': { severity: 'info', meaning: 'the xl header is big-endian (xl itself only reads its native order)' },
  'xl-config-missing': { severity: 'warning', meaning: 'the xl header carries no domain config' },
  'xl-config-not-json': { severity: 'error', meaning: 'the JSON flag is set but the config does not parse as JSON' },
  'xl-config-layout': { severity: 'error', meaning: 'the optional data does not hold config_len and that many octets' },
  // ---- libxl layer ----
  'libxl-version': { severity: 'error', meaning: 'libxl header version is not 2' },
  'libxl-options-reserved': { severity: 'error', meaning: 'reserved bits set in the libxl header options' },
  'libxl-converted-legacy': { severity: 'info', meaning: 'the libxl stream was converted from a legacy stream' },
  'libxl-no-libxc-context': { severity: 'error', meaning: 'the libxl stream ends without a LIBXC_CONTEXT record' },
  'libxl-libxc-context-repeated': { severity: 'error', meaning: 'a second LIBXC_CONTEXT record' },
  'emulator-id-invalid': { severity: 'error', meaning: 'emulator id is not 0 (unknown), 1 (qemu-traditional) or 2 (qemu-upstream)' },
  'xenstore-malformed': { severity: 'error', meaning: 'emulator xenstore data is not NUL-terminated key/value pairs, or a key is not alphanumeric ASCII and -/_@' },
  'checkpoint-state-invalid': { severity: 'error', meaning: 'CHECKPOINT_STATE control id is not 0-3' },
  'endianness-mismatch': { severity: 'warning', meaning: 'the libxc stream and its libxl wrapper disagree on byte order' },
  // ---- libxc headers ----
  'libxc-version': { severity: 'error', meaning: 'libxc image version is not 2 or 3' },
  'libxc-options-reserved': { severity: 'error', meaning: 'reserved bits set in the image header options' },
  'libxc-header-reserved': { severity: 'error', meaning: 'reserved fields of the image header are not zero' },
  'domain-type-reserved': { severity: 'error', meaning: 'domain type is reserved (0 or 5+)' },
  'domain-type-unsupported': { severity: 'error', meaning: 'domain type is x86 PVH (3) or ARM (4): defined by the spec, never written by libxc' },
  'page-shift': { severity: 'error', meaning: 'page_shift is not 12' },
  'domain-header-reserved': { severity: 'error', meaning: 'the domain header reserved field is not zero' },
  'converted-from-legacy': { severity: 'info', meaning: 'xen_major is 0: the stream was converted from a legacy image' },
  // ---- records: bodies ----
  'length-invalid': { severity: 'error', meaning: 'body length breaks the record type\'s length rule' },
  'reserved-nonzero': { severity: 'error', meaning: 'a reserved field of a record body is not zero' },
  'page-data-count-zero': { severity: 'error', meaning: 'PAGE_DATA count is 0 (it must be > 0)' },
  'page-data-length': { severity: 'error', meaning: 'PAGE_DATA body is not 8 + 8*count + 4096*pages-with-data octets' },
  'pfn-reserved-bits': { severity: 'error', meaning: 'a pfn entry has bits 59-52 set' },
  'page-type-reserved': { severity: 'error', meaning: 'a pfn entry has reserved page type 5-8' },
  'pv-info-width': { severity: 'error', meaning: 'X86_PV_INFO guest_width is not 4 or 8' },
  'pv-info-levels': { severity: 'error', meaning: 'X86_PV_INFO pt_levels is not 3 or 4' },
  'p2m-frames-range': { severity: 'error', meaning: 'X86_PV_P2M_FRAMES start pfn above end pfn' },
  'p2m-frames-count': { severity: 'error', meaning: 'X86_PV_P2M_FRAMES does not hold exactly one frame per P2M page its pfn range spans' },
  'pv-info-combination': { severity: 'error', meaning: 'X86_PV_INFO width and levels do not go together (4 with 3, 8 with 4)' },
  'pv-info-repeated': { severity: 'error', meaning: 'a second X86_PV_INFO record' },
  'vcpu-context-size': { severity: 'error', meaning: 'vcpu context size libxc refuses: EXTENDED over 128, XSAVE under 16, MSRS not a multiple of 16 octets' },
  'hvm-params-count': { severity: 'error', meaning: 'HVM_PARAMS body is not 8 + 16*count octets' },
  'hvm-param-refused': { severity: 'error', meaning: 'an HVM param index or value Xen 4.17 refuses to set (hvm_set_param), failing libxc\'s restore' },
  'hvm-param-not-saved': { severity: 'warning', meaning: 'an HVM param libxc\'s saver never sends (write_hvm_params); the restorer still sets it' },
  'hvm-param-repeated': { severity: 'warning', meaning: 'an HVM param set twice in one HVM_PARAMS record (the last value wins)' },
  'hvm-context-header': { severity: 'error', meaning: 'HVM_CONTEXT does not start with Xen\'s HEADER save record (type 1, 24 octets, magic, version 1): hvm_load refuses it' },
  'hvm-context-record': { severity: 'error', meaning: 'an HVM_CONTEXT save record hvm_load refuses: unknown typecode, length against its type\'s rule, instance out of range' },
  'hvm-context-cpu': { severity: 'error', meaning: 'an HVM CPU save record hvm_load_cpu_ctxt refuses (CR0, EFER, MSR_TSC_AUX, flags, pad)' },
  'hvm-context-end': { severity: 'error', meaning: 'HVM_CONTEXT without the END save record (typecode 0)' },
  'hvm-context-cr4': { severity: 'error', meaning: 'an HVM CPU save record whose CR4 sets a bit no guest may have (reserved, LA57, SMXE, PKS: outside any hvm_cr4_guest_valid_bits)' },
  'hvm-context-cr3': { severity: 'error', meaning: 'an HVM CPU save record whose CR3 is above any physical address (52 bits), so above every maxphysaddr' },
  'hvm-context-lapic': { severity: 'error', meaning: 'an HVM LAPIC save record in x2APIC mode with the APIC disabled (lapic_load_hidden refuses it)' },
  'hvm-context-mtrr': { severity: 'error', meaning: 'an HVM MTRR save record whose MTRRcap names more than 8 variable ranges (hvm_load_mtrr_msr refuses it)' },
  'hvm-context-viridian': { severity: 'error', meaning: 'an HVM VIRIDIAN_VCPU save record with nonzero padding (viridian_load_vcpu_ctxt refuses it)' },
  'hvm-context-xsave': { severity: 'error', meaning: 'an HVM CPU_XSAVE save record validate_xstate refuses: components outside xcr0_accum, an invalid xcr0, compacted state, reserved header octets' },
  'hvm-context-msr': { severity: 'error', meaning: 'an HVM CPU_MSR save record hvm_load_cpu_msrs refuses: nonzero _rsvd or an MSR it does not load' },
  'hvm-context-duplicate': { severity: 'warning', meaning: 'a save record type and instance twice in one HVM context (the loader takes the later over the earlier)' },
  'errata-empty-hvm-params': { severity: 'warning', meaning: 'HVM_PARAMS with count 0 (Xen 4.6-4.8 erratum, tolerated)' },
  'errata-empty-vcpu': { severity: 'warning', meaning: 'a vcpu record with no context (Xen 4.6-4.8 erratum, tolerated)' },
  'unknown-mandatory-record': { severity: 'error', meaning: 'a record type the format does not define, without the optional bit' },
  'unknown-optional-record': { severity: 'warning', meaning: 'an unknown record with the optional bit: ignored' },
  'toolstack-record': { severity: 'error', meaning: 'TOOLSTACK is deprecated: a conforming stream has none' },
  'dirty-pfn-list-in-forward-stream': { severity: 'error', meaning: 'CHECKPOINT_DIRTY_PFN_LIST only travels on the COLO back channel' },
  'checkpoint-not-allowed': { severity: 'error', meaning: 'checkpoint records in a stream not verified with --checkpointed' },
  // ---- static data (v3) ----
  'v2-static-data-end': { severity: 'error', meaning: 'STATIC_DATA_END in a v2 stream' },
  'v2-policy-record': { severity: 'error', meaning: 'X86_CPUID_POLICY or X86_MSR_POLICY in a v2 stream' },
  'static-data-end-repeated': { severity: 'error', meaning: 'a second STATIC_DATA_END' },
  'static-data-end-missing': { severity: 'error', meaning: 'a v3 stream without STATIC_DATA_END' },
  'dynamic-before-static-data-end': { severity: 'error', meaning: 'memory or register content before STATIC_DATA_END in a v3 stream' },
  'static-after-static-data-end': { severity: 'error', meaning: 'a policy or X86_PV_INFO record after STATIC_DATA_END' },
  'static-data-end-inferred': { severity: 'info', meaning: 'v2 stream: where a v3 receiver infers STATIC_DATA_END' },
  // ---- order and completeness ----
  'wrong-guest-type': { severity: 'error', meaning: 'a PV record in an HVM stream or an HVM record in a PV stream' },
  'pv-order': { severity: 'error', meaning: 'PV order broken: X86_PV_INFO, then X86_PV_P2M_FRAMES, then PAGE_DATA, then vcpu records' },
  'hvm-context-missing': { severity: 'error', meaning: 'an HVM stream without HVM_CONTEXT cannot be restored' },
  'pv-info-missing': { severity: 'error', meaning: 'a PV stream without X86_PV_INFO cannot be restored (said at STATIC_DATA_END in v3, at END in v2)' },
  'pv-p2m-frames-missing': { severity: 'error', meaning: 'a PV stream without X86_PV_P2M_FRAMES cannot be restored' },
  'static-data-end-never-inferred': { severity: 'error', meaning: 'a v2 stream without the record a v3 receiver infers STATIC_DATA_END at (PAGE_DATA for HVM, X86_PV_P2M_FRAMES for PV): it carries no memory' },
  'pv-vcpu0-basic-missing': { severity: 'error', meaning: 'a PV stream without (non-empty) X86_PV_VCPU_BASIC for vcpu 0: libxc refuses it' },
  'pv-pfn-beyond-p2m': { severity: 'error', meaning: 'a PV page above X86_PV_P2M_FRAMES\' end pfn: libxc refuses it' },
  // ---- checkpointed libxl streams (Remus / COLO; see checkpoint-rules.ts) ----
  'emulator-record-pv': { severity: 'error', meaning: 'an emulator record in a PV stream (libxl refuses it)' },
  'checkpoint-end-misplaced': { severity: 'error', meaning: 'CHECKPOINT_END that does not close a libxc CHECKPOINT' },
  'checkpoint-libxl-record': { severity: 'error', meaning: 'END or LIBXC_CONTEXT between a libxc CHECKPOINT and its CHECKPOINT_END' },
  'checkpoint-emulator-order': { severity: 'warning', meaning: 'emulator records of a checkpoint repeated, or xenstore data after the context (libxl sends xenstore data, then context)' },
  'checkpoint-emulator-context-missing': { severity: 'warning', meaning: 'an HVM checkpoint closed without EMULATOR_CONTEXT' },
  'checkpoint-state-misplaced': { severity: 'error', meaning: 'CHECKPOINT_STATE anywhere but right after a CHECKPOINT_END of a COLO stream' },
  'checkpoint-state-missing': { severity: 'error', meaning: 'COLO: the record after CHECKPOINT_END is not CHECKPOINT_STATE' },
  'checkpoint-state-direction': { severity: 'error', meaning: 'CHECKPOINT_STATE control id 1-3 (secondary to primary) in the forward stream' },
  'checkpoint-state-length': { severity: 'warning', meaning: 'CHECKPOINT_STATE body longer than its 4-octet control_id' },
  'colo-stream-hint': { severity: 'info', meaning: 'a Remus-verified stream holds what looks like COLO\'s CHECKPOINT_STATE after CHECKPOINT_END' },
  'checkpointed-after-libxc-end': { severity: 'warning', meaning: 'emulator records after the libxc END of a checkpointed stream (the receiver never reads them)' },
  // ---- legacy (Xen <= 4.5) images, read by src/stream/legacy and checked as what they convert to ----
  'legacy-p2m-size': { severity: 'error', meaning: 'legacy p2m_size 0, over 2^32, or a P2M frame list over 128 MiB' },
  'legacy-extended-info': { severity: 'error', meaning: 'legacy PV extended info: no all-ones marker, an unknown block, a "vcpu" block of an unknown size, or blocks that overrun its length' },
  'legacy-batch-too-big': { severity: 'error', meaning: 'a legacy page batch of more than 1024 pfns' },
  'legacy-duplicate-pfn': { severity: 'error', meaning: 'a legacy page batch names one pfn entry twice' },
  'legacy-vcpu-info': { severity: 'error', meaning: 'a legacy vcpu_info chunk with max_id over 4095 (or online maps that repeat without end)' },
  'legacy-unknown-chunk': { severity: 'error', meaning: 'a legacy chunk marker that is no page batch and no known chunk id' },
  'legacy-unsupported-chunk': { severity: 'error', meaning: 'a legacy tmem or Remus compression chunk (neither Xen\'s converter nor xenmig converts them)' },
  'legacy-hvm-chunk-in-pv': { severity: 'error', meaning: 'HVM param chunks in a legacy PV image' },
  'legacy-toolstack': { severity: 'error', meaning: 'legacy libxl toolstack data (the qemu physmap) that does not decode' },
  'legacy-tail': { severity: 'error', meaning: 'a legacy PV tail that does not match its extended info (xsave size)' },
  'legacy-qemu-signature': { severity: 'error', meaning: 'a legacy HVM image\'s qemu tail with an unknown 21-octet signature' },
} as const satisfies Record<string, CodeInfo>;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export function severityOf(code: DiagnosticCode): Severity {
  return DIAGNOSTIC_CODES[code].severity;
}
