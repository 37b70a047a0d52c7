/**
 * RTC (typecode 11): struct hvm_hw_rtc, the CMOS clock. Xen 4.14 appended rtc_offset
 * (16 -> 24 octets); the loader zero-extends older records.
 */
import { struct } from '../layout.js';
import { hex, plainRecord } from './save-record.js';

export const HVM_HW_RTC_LAYOUT = struct('hvm_hw_rtc', {
  cmos_data: { bytes: 14 },
  cmos_index: 'u8',
  pad0: 'u8',
  rtc_offset: 'u64',
});

/** CMOS registers 0-9 are BCD (or binary, register B bit 2) seconds .. year. */
const cmosTime = (c: Uint8Array): string => {
  const binary = (c[11]! & 4) !== 0;
  const v = (i: number): string => (binary ? c[i]! : c[i]!.toString(16)).toString().padStart(2, '0');
  return `${v(9)}-${v(8)}-${v(7)} ${v(4)}:${v(2)}:${v(0)}`;
};

export const hvmRtc = plainRecord({
  typecode: 11,
  name: 'RTC',
  perVcpu: false,
  rule: 'zeroextend',
  length: 24,
  history: [{ xen: '4.13 and older (no rtc_offset)', size: 16 }],
  layout: HVM_HW_RTC_LAYOUT,
  c: { type: 'struct hvm_hw_rtc', size: 24 },
  derive: (r) => ({ rtc_offset: BigInt.asIntN(64, r.rtc_offset), time: cmosTime(r.cmos_data) }),
  text: (r) => `CMOS time ${cmosTime(r.cmos_data)}, index ${hex(r.cmos_index, 2)}, offset ${BigInt.asIntN(64, r.rtc_offset)} s`,
});
